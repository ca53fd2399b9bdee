/**
 * Local revision names go on from the service's history, as Cloud Run's do: a new invocation's
 * first revision is one past the highest its records name, never `-00001-` again.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { appDir, tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';
import { parseConfigText } from '../../src/config/load.js';
import { LocalTarget, nextLocalRevisionNumber } from '../../src/deploy/local/target.js';
import { readHistory } from '../../src/loop/history.js';
import { silentLogger } from '../../src/log.js';
import type { CycleRecord } from '../../src/model/record.js';

const dirs: string[] = [];
let target: LocalTarget | undefined;
afterEach(async () => {
  await target?.close();
  target = undefined;
  await Promise.all(dirs.splice(0).map(removeDir));
});

describe('local revision numbering', () => {
  it("continues from the revisions a service's recorded cycles name", async () => {
    const dir = await scratchDir('process-revnum');
    dirs.push(dir);
    await writeTinyProject(dir, 'ok', tinyConfig());
    const first = await runCli(['cycle'], { cwd: dir });
    expect(first.code).toBe(0);
    const { records } = await readHistory(join(dir, 'reports'), 'tiny');
    const recorded = records[0]?.deploy.revision;
    expect(recorded).toMatch(/^tiny-00001-[a-z]{3}$/);

    expect(nextLocalRevisionNumber('tiny', records)).toBe(2);
    // A survivor a crashed run left (its cycle has no record) counts too; other services do not.
    expect(nextLocalRevisionNumber('tiny', records, ['tiny-00007-abc', 'other-00042-abc', 'tiny-notanumber'])).toBe(8);
    const other = records.map((r): CycleRecord => ({ ...r, service: 'other' }));
    expect(nextLocalRevisionNumber('tiny', other)).toBe(1);
    expect(nextLocalRevisionNumber('tiny', [])).toBe(1);

    // A target given that number names its first revision with it, and counts on from there.
    const { config } = parseConfigText(await readFile(join(dir, 'loop.config.yaml'), 'utf8'), join(dir, 'loop.config.yaml'));
    if (config.target.kind !== 'local') throw new Error('expected a local target');
    target = new LocalTarget(config.target, { service: 'tiny', log: silentLogger(), baseDir: dir, nextRevisionNumber: nextLocalRevisionNumber('tiny', records) });
    const ctx = { signal: new AbortController().signal, log: silentLogger(), cycle: 2 };
    const image = { ref: `dir:${appDir(dir)}`, dir: appDir(dir), durationMs: 0, outputTail: [] };
    const a = await target.deployCandidate(ctx, image, 'candidate');
    const b = await target.deployCandidate(ctx, image, 'candidate');
    if (!a.ok || !b.ok) throw new Error('deploy failed');
    expect(a.revision.name).toMatch(/^tiny-00002-[a-z]{3}$/);
    expect(b.revision.name).toMatch(/^tiny-00003-[a-z]{3}$/);
  });
});
