/**
 * Config warnings for Cloud Run: WebSocket checks with the default 300 s request timeout (Cloud Run
 * cuts streams at the request timeout), and h2c with WebSocket checks. The text names the field and
 * the fix; a config that is fine gets none.
 */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { configWarnings, renderWarnings } from '../../src/config/warnings.js';
import type { CloudRunTargetInput } from '../helpers/config-fixture.js';
import { tinyConfigInput } from '../helpers/tiny-service.js';

const cloudRun: CloudRunTargetInput = { kind: 'cloudrun', project: 'demo-project', region: 'europe-west4' };
const parse = (target: Partial<CloudRunTargetInput> | 'local', withSockets = true) => {
  const base = tinyConfigInput();
  return configSchema.parse({
    ...base,
    ...(target === 'local' ? {} : { target: { ...cloudRun, ...target } }),
    smoke: { ...base.smoke, checks: withSockets ? base.smoke.checks : base.smoke.checks.filter((c) => c.kind !== 'websocket') },
  });
};

describe('configWarnings', () => {
  it('warns about WebSocket checks with the request timeout unset, naming the checks, the field and the fix', () => {
    const warnings = configWarnings(parse({}));
    expect(warnings).toEqual([
      {
        path: 'target.timeoutSeconds',
        message:
          "target.timeoutSeconds is unset (Cloud Run's default, 300 s) and the config has WebSocket checks (agent): Cloud Run closes a WebSocket stream when the request timeout runs out, so production sockets are cut after 5 minutes. Set target.timeoutSeconds to the longest a stream must stay open (up to 3600), and let clients reconnect.",
      },
    ]);
    expect(renderWarnings(warnings)).toBe(`warning: ${warnings[0]?.message}\n`);
  });

  it('warns the same when the timeout is set to 300 explicitly', () => {
    expect(configWarnings(parse({ timeoutSeconds: 300 }))[0]?.message).toMatch(/^target\.timeoutSeconds is 300 s and the config has WebSocket checks \(agent\)/);
  });

  it('says nothing once the timeout is raised, for a config without WebSocket checks, or for the local target', () => {
    expect(configWarnings(parse({ timeoutSeconds: 3600 }))).toEqual([]);
    expect(configWarnings(parse({}, false))).toEqual([]);
    expect(configWarnings(parse('local'))).toEqual([]);
  });

  it('warns about h2c with WebSocket checks', () => {
    expect(configWarnings(parse({ timeoutSeconds: 1800, portName: 'h2c' }))).toEqual([
      {
        path: 'target.portName',
        message:
          "target.portName is h2c and the config has WebSocket checks (agent): Cloud Run's WebSocket guidance is not to use HTTP/2 end-to-end. Set target.portName: http1 unless the service needs h2c.",
      },
    ]);
  });
});
