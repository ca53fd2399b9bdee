/** Log lines are JSON objects with each key once: a logger that already names the revision is not bound again. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startRevision, type RunningRevision } from '../../src/runtime/revision-process.js';

describe('revision logs', () => {
  let dir: string | undefined;
  let rev: RunningRevision | undefined;
  afterAll(async () => {
    await rev?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('write "revision" once on "revision ready", also when the caller bound it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'evidence-keys-'));
    // A python revision: not the demo's stack.
    await writeFile(
      join(dir, 'server.py'),
      "import os\nfrom http.server import HTTPServer, BaseHTTPRequestHandler\nclass H(BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\nHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n",
    );
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
    const log = pino({ level: 'debug' }, sink).child({ revision: 'keys-00001' });
    const out = await startRevision({ name: 'keys-00001', command: ['/usr/bin/python3', 'server.py'], cwd: dir, env: {}, readiness: { path: '/', timeoutMs: 15_000, intervalMs: 50 }, log });
    expect(out.ok).toBe(true);
    if (out.ok) rev = out.revision;
    const ready = lines.find((l) => l.includes('"revision ready"'));
    expect(ready).toBeDefined();
    for (const line of lines) expect(line.match(/"revision":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
    expect(JSON.parse(ready!)).toMatchObject({ revision: 'keys-00001', msg: 'revision ready' });
  }, 30_000);
});
