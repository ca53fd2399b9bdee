/**
 * Revision settings the Cloud Run target sends, as the emulator stores them (the real
 * @google-cloud/run client both ways): the port name (http1 / h2c) that must survive a containerPort
 * change on a service set up by other means, session affinity and the request timeout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import type { CloudRunTargetInput } from '../../src/config/cloudrun-schema.js';
import type { StageContext } from '../../src/context.js';
import type { CloudRunTarget } from '../../src/deploy/cloudrun/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { emulatedTarget, emulatorConfig, makeTmpDir, plain, removeDir, runClients, writeApp, NO_RETRY } from './emulator-fixtures.js';

let tmp: string;
let emu: Emulator;
let apps: { v1: string; v2: string; v3: string };
const targets: CloudRunTarget[] = [];
const parent = 'projects/demo-project/locations/europe-west4';

beforeAll(async () => {
  tmp = await makeTmpDir('cloudrun-settings');
  apps = { v1: await writeApp(tmp, 'v1'), v2: await writeApp(tmp, 'v2'), v3: await writeApp(tmp, 'v3') };
  emu = await startEmulator({ config: emulatorConfig(apps.v1) });
});

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await emu?.close();
  await removeDir(tmp);
});

const ctx = (cycle: number): StageContext => ({ signal: new AbortController().signal, log: silentLogger(), cycle });
const image = (dir: string): BuiltImage => ({ ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] });

async function deploy(service: string, extra: Partial<CloudRunTargetInput>, cycle: number, dir: string): Promise<string> {
  const t = emulatedTarget(emu, service, extra);
  targets.push(t);
  const out = await t.deployCandidate(ctx(cycle), image(dir), 'candidate');
  if (!out.ok) throw new Error(`deploy failed: ${out.message}`);
  return out.revision.name;
}

/** The template the emulator stores for the service, and the revision's own copy. */
async function stored(service: string, revision: string) {
  const api = runClients(emu);
  try {
    const [svc] = await api.services.getService({ name: `${parent}/services/${service}` }, NO_RETRY);
    const [rev] = await api.revisions.getRevision({ name: `${parent}/services/${service}/revisions/${revision}` }, NO_RETRY);
    return { template: plain(svc.template), revision: plain(rev) };
  } finally {
    await api.close();
  }
}

describe('Cloud Run revision settings', () => {
  it('sends the port name, session affinity and the request timeout, and the stored template and revision carry each', async () => {
    const rev = await deploy('settings', { containerPort: 8081, portName: 'h2c', sessionAffinity: true, timeoutSeconds: 1800 }, 1, apps.v1);
    const { template, revision } = await stored('settings', rev);
    expect(template?.containers?.[0]?.ports).toEqual([{ name: 'h2c', containerPort: 8081 }]);
    expect(template?.sessionAffinity).toBe(true);
    expect(template?.timeout).toEqual({ seconds: '1800', nanos: 0 });
    expect(revision.containers?.[0]?.ports).toEqual([{ name: 'h2c', containerPort: 8081 }]);
    expect(revision.sessionAffinity).toBe(true);
    expect(revision.timeout).toEqual({ seconds: '1800', nanos: 0 });
  });

  it('keeps the h2c port name of a service set up by other means when the config sets only containerPort, and changes it when the config says so', async () => {
    const api = runClients(emu);
    try {
      // As `gcloud run deploy --use-http2` leaves it.
      const [op] = await api.services.createService(
        { parent, serviceId: 'grpc-svc', service: { template: { containers: [{ image: `dir:${apps.v1}`, ports: [{ name: 'h2c', containerPort: 8080 }] }], sessionAffinity: true } } },
        NO_RETRY,
      );
      await op.promise();
    } finally {
      await api.close();
    }
    const kept = await deploy('grpc-svc', { containerPort: 9090 }, 1, apps.v2);
    const first = await stored('grpc-svc', kept);
    expect(first.template?.containers?.[0]?.ports).toEqual([{ name: 'h2c', containerPort: 9090 }]);
    // Settings the config does not name stay as the service has them.
    expect(first.template?.sessionAffinity).toBe(true);

    const changed = await deploy('grpc-svc', { containerPort: 9090, portName: 'http1', sessionAffinity: false }, 2, apps.v3);
    const second = await stored('grpc-svc', changed);
    expect(second.template?.containers?.[0]?.ports).toEqual([{ name: 'http1', containerPort: 9090 }]);
    expect(second.template?.sessionAffinity).toBe(false);
  });

  it('gives a new service http1 on the port the config names', async () => {
    const rev = await deploy('plain-port', { containerPort: 8080 }, 1, apps.v1);
    expect((await stored('plain-port', rev)).template?.containers?.[0]?.ports).toEqual([{ name: 'http1', containerPort: 8080 }]);
  });
});
