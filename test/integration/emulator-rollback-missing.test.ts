/**
 * `deploy-loop rollback --revision MISSING` through the real CLI, against an emulator that behaves
 * as Cloud Run does for traffic to a missing revision: the update is accepted and its operation
 * fails, leaving the service not ready. The CLI must name the revision, exit 3 (README, "Safety"),
 * and leave the service serving (and Ready with) its old split. The service is a Python
 * http.server in a folder of its own, not the Node demo.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { PYTHON_SERVICE, configYaml, pythonConfig, emulatedCloudRunTarget } from '../helpers/config-fixture.js';
import { NO_RETRY, getJson, plain, runClients } from './emulator-fixtures.js';

let emu: Emulator;
let api: ReturnType<typeof runClients>;
const dirs: string[] = [];

beforeAll(async () => {
  emu = await startEmulator({
    config: {
      operationDelayMs: 20,
      startup: { timeoutMs: 10_000, intervalMs: 50 },
      images: { 'dir:': { command: ['/usr/bin/python3', 'server.py'] } },
      adminPort: false,
    },
  });
  api = runClients(emu);
});

afterAll(async () => {
  await api?.close();
  await emu?.close();
  await Promise.all(dirs.splice(0).map(removeDir));
});

const SERVICE = 'py-rollback';

async function project(): Promise<string> {
  const dir = await scratchDir('emulator-rollback');
  dirs.push(dir);
  const cfg = pythonConfig();
  await writeFiles(dir, {
    'svc/server.py': PYTHON_SERVICE,
    'loop.config.yaml': configYaml({
      ...cfg,
      service: SERVICE,
      target: emulatedCloudRunTarget(emu.port),
    }),
  });
  return dir;
}

describe('deploy-loop rollback to a revision that does not exist', () => {
  it('names the revision with Cloud Run\'s message, exits 3, and leaves the old split serving and the service Ready', async () => {
    const dir = await project();
    const cycle = await runCli(['cycle'], { cwd: dir });
    expect(cycle.code, cycle.stderr).toBe(0);
    const record = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8')) as { deploy: { revision: string }; serviceUrl: string };
    const good = record.deploy.revision;
    const name = `projects/demo-project/locations/europe-west4/services/${SERVICE}`;
    const [before] = await api.services.getService({ name }, NO_RETRY);

    const r = await runCli(['rollback', '--revision', `${SERVICE}-nope`], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`Revision '${SERVICE}-nope' does not exist or is deleted`);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stdout).not.toContain('serves 100% of traffic');

    // Still served by the revision that served before, for every request.
    for (let i = 0; i < 5; i++) expect((await getJson(`${record.serviceUrl}/healthz`)).revision).toBe(good);
    // The refused split was written back: the service is Ready again, with the traffic it had.
    const [after] = await api.services.getService({ name }, NO_RETRY);
    const [b, a] = [plain(before), plain(after)];
    expect(a.terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    expect(a.reconciling).toBe(false);
    expect(a.traffic).toEqual(b.traffic);
    expect(a.trafficStatuses).toEqual(b.trafficStatuses);
    expect(a.observedGeneration).toBe(a.generation);
  });
});
