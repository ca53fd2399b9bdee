import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { planCanary, planPromotion } from '../../src/traffic/plan.js';

const sum = (split: { percent: number }[]) => split.reduce((s, e) => s + e.percent, 0);

describe('planCanary', () => {
  it('gives the candidate each step share and the old revision the rest, keeping the candidate tag', () => {
    const steps = planCanary([{ revision: 'a', percent: 100 }], 'b', [10, 50, 100], 'candidate');
    expect(steps).toEqual([
      { percent: 10, split: [{ revision: 'a', percent: 90 }, { revision: 'b', percent: 10, tag: 'candidate' }] },
      { percent: 50, split: [{ revision: 'a', percent: 50 }, { revision: 'b', percent: 50, tag: 'candidate' }] },
      { percent: 100, split: [{ revision: 'b', percent: 100 }] },
    ]);
  });

  it('splits what is left across several serving revisions in proportion, in whole percents adding up to 100', () => {
    const before = [
      { revision: 'a', percent: 67 },
      { revision: 'b', percent: 33, tag: 'blue' },
    ];
    const [first, second] = planCanary(before, 'c', [10, 25, 100], 'candidate');
    expect(first?.split).toEqual([
      { revision: 'a', percent: 60 },
      { revision: 'b', percent: 30, tag: 'blue' },
      { revision: 'c', percent: 10, tag: 'candidate' },
    ]);
    // 75 × 0.67 = 50.25 and 75 × 0.33 = 24.75: the larger remainder gets the spare percent.
    expect(second?.split).toEqual([
      { revision: 'a', percent: 50 },
      { revision: 'b', percent: 25, tag: 'blue' },
      { revision: 'c', percent: 25, tag: 'candidate' },
    ]);
    for (const s of planCanary(before, 'c', [1, 3, 7, 33, 99, 100])) expect(sum(s.split)).toBe(100);
  });

  it('drops the old holder of the candidate tag and the candidate 0% entry, keeps other 0% tags', () => {
    const before = [
      { revision: 'a', percent: 100 },
      { revision: 'old', percent: 0, tag: 'candidate' },
      { revision: 'pinned', percent: 0, tag: 'v1' },
      { revision: 'b', percent: 0, tag: 'candidate' },
    ];
    const [first] = planCanary(before, 'b', [20, 100], 'candidate');
    expect(first?.split).toEqual([
      { revision: 'a', percent: 80 },
      { revision: 'pinned', percent: 0, tag: 'v1' },
      { revision: 'b', percent: 20, tag: 'candidate' },
    ]);
  });

  it('with nothing serving before, goes straight to 100% in one step', () => {
    expect(planCanary([], 'b', [10, 50, 100], 'candidate')).toEqual([{ percent: 100, split: [{ revision: 'b', percent: 100 }] }]);
    expect(planCanary([{ revision: 'b', percent: 0, tag: 'candidate' }], 'b', [10, 100])).toHaveLength(1);
  });

  it('ends on the same split as a direct promotion', () => {
    const before = [{ revision: 'a', percent: 100 }];
    expect(planCanary(before, 'b', [50, 100]).at(-1)?.split).toEqual(planPromotion(before, 'b', true).split);
  });
});

const BASE = `apiVersion: deploy-loop/v1
service: demo
build:
  kind: command
target:
  kind: local
  command: [node, server.mjs]
smoke:
  checks:
    - name: health
      kind: http
traffic:
`;

function issues(traffic: string): string[] {
  try {
    parseConfigText(BASE + traffic, 'loop.config.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.field}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('traffic config', () => {
  it('defaults to direct, with canary steps 10, 50, 100, no hold and the whole suite', () => {
    const { config } = parseConfigText(BASE.replace('traffic:\n', ''), 'loop.config.yaml');
    expect(config.traffic).toMatchObject({ strategy: 'direct', steps: [10, 50, 100], holdMs: 0, smoke: 'all' });
    const canary = parseConfigText(`${BASE}  strategy: canary\n  steps: [25, 100]\n  holdMs: 500\n  smoke: [health]\n`, 'loop.config.yaml');
    expect(canary.config.traffic).toMatchObject({ strategy: 'canary', steps: [25, 100], holdMs: 500, smoke: ['health'] });
  });

  it.each([
    ['an unknown strategy', '  strategy: bluegreen\n', /traffic\.strategy: expected traffic\.strategy: direct or canary/],
    ['steps that do not increase', '  steps: [50, 10, 100]\n', /traffic\.steps: canary steps must increase strictly/],
    ['steps that repeat', '  steps: [50, 50, 100]\n', /traffic\.steps: canary steps must increase strictly/],
    ['steps that stop short of 100', '  steps: [10, 50]\n', /traffic\.steps: the last canary step must be 100/],
    ['a step above 100', '  steps: [10, 150]\n', /traffic\.steps\[1\]: expected a canary step as a whole percent/],
    ['a fractional step', '  steps: [12.5, 100]\n', /traffic\.steps\[0\]: expected a canary step/],
    ['no steps', '  steps: []\n', /traffic\.steps: expected at least one canary step/],
    ['a negative hold', '  holdMs: -1\n', /traffic\.holdMs: expected holdMs/],
    ['an unknown check name', '  smoke: [health, helth]\n', /traffic\.smoke\[1\]: no check named "helth"/],
    ['smoke as a word other than all', '  smoke: some\n', /traffic\.smoke: expected traffic\.smoke: all, or a list/],
  ])('rejects %s with a precise message', (_what, yaml, message) => {
    expect(issues(yaml).join('\n')).toMatch(message);
  });
});
