/**
 * The shipped CI examples validate against the published schemas the editors use (SchemaStore's
 * GitHub workflow schema, GitLab's own CI schema; copies under test/fixtures/schemastore/, see
 * SOURCE.md there), and a mutated copy of each fails on the key that was broken, so these can fail.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'schemastore');

type Doc = Record<string, unknown>;

/**
 * Both schemas are draft-07, so the default `Ajv` build. `strict: false` because they carry
 * a keyword ajv does not know (`markdownDescription`, GitLab) and `properties` without
 * `type: object` (GitHub), which strict mode rejects; `validateFormats: false` because ajv-formats is not a dependency,
 * so `format` (uri, date-time) is not checked, everything else is.
 */
function validator(file: string): (doc: unknown) => string[] {
  const schema = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as Doc;
  const check: ValidateFunction = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
  return (doc) => {
    if (check(doc)) return [];
    return (check.errors ?? []).map((e) => {
      const extra = 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : '';
      return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
    });
  };
}

const github = validator('github-workflow.json');
const gitlab = validator('gitlab-ci.json');

// GitLab CI resolves YAML merge keys (`<<: *reports`) before it validates, so the test does too.
const load = (file: string): Doc => parse(readFileSync(join(root, 'examples', file), 'utf8'), { merge: true }) as Doc;
const ghExample = () => load('github-actions.yml');
const glExample = () => load('gitlab-ci.yml');

type Job = Doc & { steps?: Doc[] };
const jobs = (doc: Doc) => doc.jobs as Record<string, Job>;

describe('examples/github-actions.yml against SchemaStore github-workflow.json', () => {
  it('validates', () => {
    expect(github(ghExample())).toEqual([]);
  });

  it('is really the workflow the schema describes (two jobs, steps with uses and run)', () => {
    const doc = ghExample();
    expect(Object.keys(jobs(doc)).sort()).toEqual(['deploy-loop', 'local']);
    for (const job of Object.values(jobs(doc))) {
      expect(job.steps!.some((s) => typeof s.uses === 'string')).toBe(true);
      expect(job.steps!.some((s) => typeof s.run === 'string')).toBe(true);
    }
  });

  it('pins every action to a major tag, not a branch or a moving ref', () => {
    // Which major is current is pinned in test/integration/package-install.test.ts.
    const uses = Object.values(jobs(ghExample())).flatMap((j) => j.steps!.map((s) => s.uses).filter((u): u is string => typeof u === 'string'));
    expect(uses.length).toBeGreaterThan(5);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
  });

  it('fails with an unknown key under a job', () => {
    const doc = ghExample();
    jobs(doc).local!['timeout-minute'] = 30;
    const errors = github(doc);
    expect(errors.some((e) => e.startsWith('/jobs/local') && e.includes('(timeout-minute)')), errors.join('\n')).toBe(true);
  });

  it('fails with a runs-on of the wrong type', () => {
    const doc = ghExample();
    jobs(doc).local!['runs-on'] = 22;
    const errors = github(doc);
    expect(errors.some((e) => e.startsWith('/jobs/local/runs-on')), errors.join('\n')).toBe(true);
  });

  it('fails with an unknown key in a step and with a permission that does not exist', () => {
    const step = ghExample();
    jobs(step)['deploy-loop']!.steps![0]!.uses_ = 'actions/checkout@v6';
    expect(github(step).some((e) => e.startsWith('/jobs/deploy-loop/steps/0') && e.includes('(uses_)'))).toBe(true);

    const perm = ghExample();
    (jobs(perm)['deploy-loop']!.permissions as Doc)['id-tokens'] = 'write';
    expect(github(perm).some((e) => e.startsWith('/jobs/deploy-loop/permissions') && e.includes('(id-tokens)'))).toBe(true);
  });
});

describe('examples/gitlab-ci.yml against GitLab ci.json', () => {
  it('validates', () => {
    expect(gitlab(glExample())).toEqual([]);
  });

  it('is really the pipeline the schema describes (two jobs with scripts and the JUnit report)', () => {
    const doc = glExample();
    for (const name of ['deploy-loop-local', 'deploy-loop-cloudrun']) {
      const job = doc[name] as Doc & { script: unknown[]; artifacts: { reports: { junit: string } } };
      expect(job.script.length, name).toBeGreaterThan(0);
      expect(job.artifacts.reports.junit, name).toBe('reports/junit.xml');
    }
  });

  it('fails with an unknown key under a job', () => {
    const doc = glExample();
    (doc['deploy-loop-local'] as Doc).scripts = ['npx deploy-loop cycle'];
    const errors = gitlab(doc);
    expect(errors.some((e) => e.startsWith('/deploy-loop-local') && e.includes('(scripts)')), errors.join('\n')).toBe(true);
  });

  it('fails with a JUnit report of the wrong type and an artifacts:when GitLab does not know', () => {
    const junit = glExample();
    ((junit['deploy-loop-local'] as Doc & { artifacts: { reports: Doc } }).artifacts.reports).junit = 42;
    expect(gitlab(junit).some((e) => e.startsWith('/deploy-loop-local/artifacts/reports/junit'))).toBe(true);

    const when = glExample();
    (when['deploy-loop-cloudrun'] as Doc & { artifacts: Doc }).artifacts.when = 'sometimes';
    expect(gitlab(when).some((e) => e.startsWith('/deploy-loop-cloudrun/artifacts/when'))).toBe(true);
  });
});
