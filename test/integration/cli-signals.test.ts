/**
 * A closed terminal sends SIGHUP: the CLI treats it as Ctrl-C (stop after the current step, exit
 * 130), and a second signal forces the exit. Against a Python server whose /slow never answers in
 * time, so the smoke check is in flight when the signal lands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, scratchDir, startCli, writeFiles } from '../helpers/cli.js';

const SLOW_SERVER = `
import http.server, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/slow':
            print('slow request', flush=True)
            time.sleep(30)
        self.send_response(200)
        self.send_header('content-type', 'application/json')
        self.end_headers()
        self.wfile.write(b'{"ok": true}')
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
`;

/** Ignores SIGTERM and sleeps; leaves its pid so the test can end it. */
const STUBBORN = `
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open('stubborn.pid', 'w').write(str(os.getpid()))
time.sleep(60)
`;

const exists = (file: string) => access(file).then(() => true, () => false);

const CONFIG = `apiVersion: deploy-loop/v1
service: slow-py
build: { kind: command, context: . }
target: { kind: local, command: [python3, server.py] }
smoke:
  checks:
    - { name: health, kind: http, priority: P0, path: /healthz }
    - { name: slow, kind: http, priority: P1, path: /slow, timeoutMs: 20000 }
`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The Python server on a port it picked; resolves `slowRequest` when /slow is being served. */
async function startSlowServer(dir: string): Promise<{ url: string; slowRequest: Promise<void>; proc: ChildProcess }> {
  const proc = spawn('python3', ['server.py'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((res) => proc.once('exit', res));
    }
  });
  let out = '';
  let onSlow: () => void = () => {};
  const slowRequest = new Promise<void>((res) => (onSlow = res));
  const port = await new Promise<string>((res, rej) => {
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) res(m[1] as string);
      if (out.includes('slow request')) onSlow();
    });
    proc.once('exit', (code) => rej(new Error(`python3 server exited ${code}: ${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, slowRequest, proc };
}

async function project(): Promise<string> {
  const dir = await scratchDir('cli-signals');
  cleanup.push(() => removeDir(dir));
  await writeFiles(dir, { 'server.py': SLOW_SERVER, 'loop.config.yaml': CONFIG });
  return dir;
}

describe('signals', () => {
  it('SIGHUP while a smoke check runs: stops it and exits 130, long before the check would time out', async () => {
    const dir = await project();
    const server = await startSlowServer(dir);
    const cli = startCli(['smoke', '--url', server.url, '--log-format', 'json'], { cwd: dir });
    cleanup.push(async () => {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    });
    await server.slowRequest;
    const sent = Date.now();
    cli.child.kill('SIGHUP');
    const r = await cli.done;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('SIGHUP received: stopping after the current step');
    expect(r.stderr).not.toContain('internal error');
    // The check's own timeout is 20 s: ending well before it means the signal stopped it.
    expect(Date.now() - sent).toBeLessThan(15_000);
    // Interrupted, it prints no verdict.
    expect(r.stdout).not.toContain('gate:');
  });

  it('a second signal forces the exit (130) while a stage is slow to stop', async () => {
    const dir = await project();
    const server = await startSlowServer(dir);
    // A command check that ignores SIGTERM: stopping it takes execa's 2 s grace before SIGKILL.
    await writeFiles(dir, {
      'stubborn.py': STUBBORN,
      'stubborn.yaml': `apiVersion: deploy-loop/v1
service: slow-py
build: { kind: command, context: . }
target: { kind: local, command: [python3, server.py] }
smoke:
  checks:
    - { name: suite, kind: command, priority: P0, command: [python3, stubborn.py], junit: junit.xml }
`,
    });
    cleanup.push(async () => {
      const pid = Number(await readFile(join(dir, 'stubborn.pid'), 'utf8').catch(() => ''));
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    const cli = startCli(['smoke', '-c', 'stubborn.yaml', '--url', server.url, '--log-format', 'json'], { cwd: dir });
    cleanup.push(async () => {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    });
    for (let i = 0; i < 300 && !(await exists(join(dir, 'stubborn.pid'))); i++) await sleep(50);
    let stderr = '';
    const first = new Promise<void>((res) =>
      cli.child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('SIGHUP received')) res();
      }),
    );
    cli.child.kill('SIGHUP');
    await first;
    const sent = Date.now();
    cli.child.kill('SIGINT');
    const r = await cli.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('second SIGINT, exiting now');
    // Forced: it did not wait out the 2 s grace the stubborn check gets.
    expect(Date.now() - sent).toBeLessThan(1500);
  });
});
