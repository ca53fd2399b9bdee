/**
 * `deploy-loop init` through the real CLI in a scratch folder: the file it writes passes
 * `deploy-loop validate`, it never overwrites without --force, and bad flags are usage errors.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { patchText } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

async function scratch(): Promise<string> {
  const dir = await scratchDir('init');
  dirs.push(dir);
  return dir;
}

describe('deploy-loop init', () => {
  it('writes a local config with a WebSocket check that validate accepts', async () => {
    const dir = await scratch();
    const r = await runCli(['init', '--service', 'chat-api', '--health-path', '/health', '--ws-path', '/ws/chat'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = await readFile(join(dir, 'loop.config.yaml'), 'utf8');
    // The modeline points editors at the schema of the deploy-loop that wrote it, relative to the file.
    expect(text).toMatch(/^# yaml-language-server: \$schema=\.\.\/\.\.\/schema\/loop\.config\.schema\.json\n# deploy-loop configuration for chat-api/);
    expect(r.stdout).toContain('no .gitignore in');
    const v = await runCli(['validate'], { cwd: dir });
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('service chat-api, build command, target local');
    expect(v.stdout).toContain('2 checks (P0: 2)');
    expect(text).toContain('path: /health\n');
    expect(text).toContain('path: /ws/chat\n');

    // The commented thresholds, uncommented as a user would, validate too.
    const block = /^  # thresholds:\n(?:  # .*\n)+/m.exec(text)?.[0] ?? '';
    expect(block).toContain('abortOnFail: true');
    await writeFile(join(dir, 'loop.config.yaml'), patchText(text, block, patchText(block, /^  # /gm, '  ')));
    const withThresholds = await runCli(['validate'], { cwd: dir });
    expect(withThresholds.stderr).toBe('');
    expect(withThresholds.code).toBe(0);
  });

  it('writes a cloudrun config that validate accepts, to the file -c names', async () => {
    const dir = await scratch();
    const ok = await runCli(['init', '--target', 'cloudrun', '--service', 'billing', '-c', 'deploy/cr.yaml'], { cwd: dir });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const v = await runCli(['validate', '-c', 'deploy/cr.yaml'], { cwd: dir, env: { GOOGLE_CLOUD_PROJECT: 'acme-prod', REGION: 'europe-west4' } });
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('service billing, build cloudbuild, target cloudrun');
    expect(v.stdout).toContain('1 checks (P0: 1)');
  });

  it('names the service after the folder when --service is not given', async () => {
    const dir = await scratch();
    expect((await runCli(['init'], { cwd: dir })).code).toBe(0);
    const v = await runCli(['validate'], { cwd: dir });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/service init-[a-z0-9]+/i);
  });

  it('refuses to overwrite without --force (exit 2) and overwrites with it', async () => {
    const dir = await scratch();
    const file = join(dir, 'loop.config.yaml');
    await writeFile(file, 'mine: true\n');
    const r = await runCli(['init', '--service', 'x-svc'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already exists');
    expect(r.stderr).toContain('--force');
    expect(await readFile(file, 'utf8')).toBe('mine: true\n');
    const f = await runCli(['init', '--service', 'x-svc', '--force'], { cwd: dir });
    expect(f.code).toBe(0);
    expect(await readFile(file, 'utf8')).toContain('service: x-svc');
  });

  it('rejects a bad service name, target or path with exit 2 and writes nothing', async () => {
    const dir = await scratch();
    for (const args of [['--service', 'Bad_Name'], ['--target', 'heroku'], ['--health-path', 'healthz']]) {
      const r = await runCli(['init', ...args], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--(service|target|health-path)/);
    }
    await expect(readFile(join(dir, 'loop.config.yaml'), 'utf8')).rejects.toThrow();
  });
});
