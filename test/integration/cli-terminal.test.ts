/**
 * What a person at a terminal sees, in a real pseudo-terminal (util-linux `script`): one line per
 * event, the progress line, each cycle's result list, and colours only when they are wanted.
 */
import { execFile, spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

const hasScript = await promisify(execFile)('script', ['--version']).then(() => true, () => false);
const NODE = realpathSync(process.execPath);
const ESC = '\u001b';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** Runs the CLI with a pseudo-terminal for stdin, stdout and stderr; returns what the terminal got. */
function inPty(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const base = { ...process.env };
  // A terminal outside CI: pretty logs and the progress line.
  delete base.CI;
  delete base.GITHUB_ACTIONS;
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  const command = `stty cols 200 rows 50; exec ${[NODE, BIN, ...args].map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: { ...base, TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return new Promise((res) => child.on('close', (code) => res({ code, out })));
}

/** The lines a person reads: CRLF from the terminal undone, and what a `\r` redraw left visible. */
function visibleLines(out: string): string[] {
  return out
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => (l.split('\r').at(-1) ?? '').trimEnd())
    .filter(Boolean);
}

const LOG_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): \S/;
const STDOUT_LINE = /^((pass|fail|error|skipped|degraded) +P\d |gate: |cycle \d+: |reports: |run: )/;

describe.skipIf(!hasScript)('in a terminal', () => {
  it('run: one line per event, the progress line, and each cycle ends with its list; NO_COLOR: no escape codes', async () => {
    const dir = await scratchDir('cli-pty');
    dirs.push(dir);
    await writeTinyProject(dir, 'ws1011', tinyConfig({ fix: true }));
    const { code, out } = await inPty(['run'], dir, { NO_COLOR: '1' });
    expect(code, out).toBe(0);
    expect(out).not.toContain(ESC);
    const lines = visibleLines(out);
    // Every line is one log event or one result line: nothing continues on an indented line.
    expect(lines.filter((l) => !LOG_LINE.test(l) && !STDOUT_LINE.test(l))).toEqual([]);
    expect(lines.filter((l) => LOG_LINE.test(l)).length).toBeGreaterThan(10);
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^fail {2}P0 agent .*ws-1011-internal-error: .*1011/)).toBeGreaterThan(-1);
    expect(at(/^fail {2}P0 agent/)).toBeLessThan(at(/^cycle 1: gate-failed {2}reports\/cycle-001\.md$/));
    expect(at(/^gate: failed: P0 passed 1 of 2/)).toBeLessThan(at(/^cycle 1: gate-failed/));
    expect(at(/^pass {2}P0 agent/)).toBeGreaterThan(at(/^cycle 1: gate-failed/));
    expect(at(/^pass {2}P0 agent/)).toBeLessThan(at(/^cycle 2: passed {2}reports\/cycle-002\.md$/));
    expect(at(/^reports: reports\/cycle-002\.json reports\/cycle-002\.junit\.xml reports\/summary\.md$/)).toBeGreaterThan(-1);
    expect(lines.at(-1)).toMatch(/^run: passed after 2 cycle\(s\)/);
    // The progress line was drawn on the terminal, then overwritten (so it is in no visible line).
    const redraws = out.split(/[\r\n]/);
    expect(redraws.some((s) => /^\S cycle 1 · smoke 2 checks against tiny-\S+ · \d+\.\ds/.test(s))).toBe(true);
    expect(lines.some((l) => l.includes('smoke 2 checks against'))).toBe(false);
  });

  it('colours on a terminal unless --no-color; --quiet keeps failures and the verdict', async () => {
    const dir = await scratchDir('cli-pty-color');
    dirs.push(dir);
    await writeTinyProject(dir, 'ws1011', tinyConfig());
    const svc = await startPythonService(dir);
    try {
      const coloured = await inPty(['smoke', '--url', svc.url], dir);
      expect(coloured.code).toBe(1);
      expect(coloured.out).toContain(`${ESC}[`);
      const plain = await inPty(['smoke', '--url', svc.url, '--no-color'], dir);
      expect(plain.code).toBe(1);
      expect(plain.out).not.toContain(ESC);
      expect(visibleLines(plain.out).filter((l) => LOG_LINE.test(l)).length).toBeGreaterThan(0);
      const quiet = await inPty(['smoke', '--url', svc.url, '--quiet', '--no-color'], dir);
      expect(quiet.code).toBe(1);
      const lines = visibleLines(quiet.out);
      // The python service answers /healthz but has no WebSocket: only that failure, then the gate.
      expect(lines.filter((l) => LOG_LINE.test(l) && !/\] (WARN|ERROR|FATAL): /.test(l))).toEqual([]);
      expect(lines.filter((l) => STDOUT_LINE.test(l))).toEqual([expect.stringMatching(/^fail {2}P0 agent /), expect.stringMatching(/^gate: failed: /)]);
    } finally {
      svc.stop();
    }
  });
});

describe('colour and quiet outside a terminal', () => {
  it('FORCE_COLOR colours pretty logs into a pipe, NO_COLOR wins over it', async () => {
    const dir = await scratchDir('cli-color');
    dirs.push(dir);
    await writeTinyProject(dir, 'ok', tinyConfig());
    const svc = await startPythonService(dir);
    try {
      const on = await runCli(['smoke', '--url', svc.url, '--log-format', 'pretty'], { cwd: dir, env: { FORCE_COLOR: '1' } });
      expect(on.stderr).toContain(`${ESC}[`);
      const off = await runCli(['smoke', '--url', svc.url, '--log-format', 'pretty'], { cwd: dir, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
      expect(off.stderr).not.toContain(ESC);
      expect(off.stderr).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: smoke health: pass \{/m);
    } finally {
      svc.stop();
    }
  });

  it('cycle --quiet: no info logs; stdout has the failures, the gate and the verdict', async () => {
    const dir = await scratchDir('cli-quiet');
    dirs.push(dir);
    await writeTinyProject(dir, 'ws1011', tinyConfig());
    const r = await runCli(['cycle', '--quiet'], { cwd: dir });
    expect(r.code).toBe(1);
    const levels = r.stderr.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels.every((l) => l >= 40)).toBe(true);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^fail {2}P0 agent \(\d+ ms\) {2}ws-1011-internal-error: /),
      'gate: failed: P0 passed 1 of 2 (50%), needs 100%',
      'cycle 1: gate-failed  reports/cycle-001.md',
    ]);
  });
});

/** A Python service that answers /healthz as the tiny config expects and has no WebSocket route. */
async function startPythonService(dir: string): Promise<{ url: string; stop: () => void }> {
  await writeFiles(dir, {
    'py-service.py': `
import http.server, json
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"ok": True}).encode() if self.path == '/healthz' else b'{}'
        self.send_response(200 if self.path == '/healthz' else 404)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
`,
  });
  const proc = spawn('python3', ['py-service.py'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((res, rej) => {
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) res(m[1] as string);
    });
    proc.once('exit', (c) => rej(new Error(`python3 exited ${c}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill('SIGKILL') };
}
