/**
 * The local target's proxy relays each framing a real service answers with, through the real CLI:
 * a Python http.server on HTTP/1.1 (not the demo's Node stack) answering with a Content-Length, in
 * chunks, and until the connection closes, each behind a smoke check with a JSON assertion, kept
 * alive across checks by the smoke client.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliCleanup, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { pythonConfig, writeConfig } from '../helpers/config-fixture.js';

const { dirs } = cliCleanup();

const SERVICE = `import http.server, json, os
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"ok": True, "path": self.path, "pad": "x" * 3000}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        if self.path == "/chunked":
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\\r\\n\\r\\n")
        elif self.path == "/until-close":
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
        else:
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

describe('the local proxy through the CLI', () => {
  it('passes checks on answers framed by length, by chunks and by the close', async () => {
    const dir = await scratchDir('relay-cli');
    dirs.push(dir);
    await writeFiles(dir, { 'svc/server.py': SERVICE });
    const config = pythonConfig();
    const paths = ['/length', '/chunked', '/until-close', '/length-again', '/chunked?again=1'];
    // One at a time, so the checks follow each other on the smoke client's kept-alive connection:
    // an answer whose end the relay missed would hold up the next check.
    config.smoke.concurrency = 1;
    config.smoke.checks = paths.map((path, i) => ({ name: `framing-${i}`, kind: 'http', priority: 'P0', path, expect: { status: 200, json: { ok: true, path } } }));
    await writeConfig(dir, config);
    const r = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(dir, 'reports', 'latest.json'), 'utf8')) as { record: { smoke: { results: Array<{ name: string; status: string }> } } };
    expect(report.record.smoke.results.map((c) => [c.name, c.status])).toEqual(paths.map((_, i) => [`framing-${i}`, 'pass']));
  });
});
