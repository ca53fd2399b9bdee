/**
 * The fix step made for agents, through the real CLI, on a service the demo is not: a Python
 * service at the root of its own build context (config and reports inside it too) whose handler
 * logs a traceback through a second module. Cycle 1's issue carries an evidence chain ending at
 * that module's file:line with its source lines; the fix command gets a prompt within its budget
 * holding no planted secret, and what it writes to DEPLOY_LOOP_FIX_NOTES shows up apart in the next
 * report, redacted and with its terminal-unsafe bytes neutralised.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROMPT_BUDGET } from '../../src/loop/prompt.js';
import { browserSkipReason, launch, openOffline } from './html-browser.js';
import type { CycleReportJson } from '../../src/model/report.js';
import type { FixIssuesFile } from '../../src/model/fix-issues.js';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { PYTHON_SERVICE, pythonConfig, writeConfig, type ConfigInput } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

const SECRET = 'planted-secret-4f1c9e7a2b';
/** The run of the first test, which the browser test opens. */
let pythonRun: string | undefined;

/** Line 5 divides by zero when FAULT=1; line 2 holds the planted secret, inside the excerpt's reach. */
const PRICING = `def total(items, fault):
    fallback_key = "${SECRET}"
    n = 0 if fault == "1" else len(items)
    subtotal = sum(items)
    return subtotal / n
`;

const SERVER = `import http.server, json, os, sys, traceback
from pricing import total
FAULT = os.environ.get("FAULT", "0")
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = 200, {"ok": True}
        if self.path == "/price":
            try:
                body = {"total": total([3, 4], FAULT)}
            except Exception:
                sys.stderr.write("price failed for key %s\\n" % os.environ["API_TOKEN"])
                traceback.print_exc()
                sys.stderr.flush()
                code, body = 500, {"error": "internal"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, fmt, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

/** The fixer: repairs pricing.py and writes notes holding an ESC sequence, a bell, a workflow command and the secret. */
const FIX = `import { readFileSync, writeFileSync } from 'node:fs';
const prompt = readFileSync(process.env.DEPLOY_LOOP_PROMPT_MD, 'utf8');
if (!prompt.includes('pricing.py:5')) { console.error('the prompt names no pricing.py:5'); process.exit(3); }
writeFileSync('pricing.py', readFileSync('pricing.py', 'utf8').replace('0 if fault == "1" else len(items)', 'len(items)'));
writeFileSync(process.env.DEPLOY_LOOP_FIX_NOTES, '# Fixed pricing\\n\\x1b[2J\\x07 n is never 0 now\\n::error::hijack\\nkey ${SECRET}\\n');
`;

function config(): ConfigInput {
  const base = pythonConfig({ env: { FAULT: '1', API_TOKEN: SECRET }, maxCycles: 2, fix: [process.execPath, 'fix.mjs'] });
  const target = base.target.kind === 'local' ? { ...base.target, command: ['/usr/bin/python3', 'server.py'] } : base.target;
  return {
    ...base,
    // The service sits at the root of its context, with the config, the fix script and the reports beside it.
    build: { kind: 'command', context: '.' },
    target,
    smoke: { ...base.smoke, checks: [{ name: 'price', kind: 'http', priority: 'P0', path: '/price', expect: { status: 200 } }] },
  };
}

const text = (dir: string, f: string) => readFile(join(dir, 'reports', f), 'utf8');
const json = async <T>(dir: string, f: string): Promise<T> => JSON.parse(await text(dir, f)) as T;

describe('fix step for agents (Python service at the root of its context)', () => {
  it('chains cycle 1 to pricing.py:5 with its lines, gives a clean prompt within budget, and shows the notes apart in cycle 2', async () => {
    const dir = await scratchDir('fix-agent-py');
    dirs.push(dir);
    pythonRun = dir;
    await writeFiles(dir, { 'server.py': SERVER, 'pricing.py': PRICING, 'fix.mjs': FIX });
    await writeConfig(dir, config());
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);

    // The chain, in the JSON report, the markdown and the issues file alike.
    const rep = await json<CycleReportJson>(dir, 'cycle-001.json');
    const chain = rep.issues[0]!.chain!;
    expect(chain.map((l) => l.kind)).toEqual(['symptom', 'log', 'frame']);
    expect(chain[0]!.text).toContain('price: http-5xx, HTTP 500');
    expect(chain[1]).toMatchObject({ source: "service log, this check's window" });
    expect(chain[1]!.text).toMatch(/^ZeroDivisionError: division by zero \(the record starts: price failed for key \[redacted\]\)$/);
    expect(chain[2]).toMatchObject({ source: 'build context', file: 'pricing.py', line: 5 });
    expect(chain[2]!.excerpt).toEqual(['3|     n = 0 if fault == "1" else len(items)', '4|     subtotal = sum(items)', '5|     return subtotal / n']);
    const md = await text(dir, 'cycle-001.md');
    expect(md).toContain('3. frame (build context): `pricing.py:5`, the innermost frame in your source');
    expect(md).toContain('   5|     return subtotal / n');
    // The issue's log lines and chain name the context's files, not the build copy that ran (the
    // deployment section names that copy as the image, which it is).
    const issueSection = md.slice(md.indexOf('## Remaining issues'), md.indexOf('## Next steps'));
    expect(issueSection).toContain('File "pricing.py", line 5, in total');
    expect(issueSection).not.toContain('.deploy-loop/builds');
    expect(md).not.toContain(dir);
    const issues = await json<FixIssuesFile>(dir, 'issues-001.json');
    expect(issues.issues[0]!.chain).toEqual(chain);

    // The prompt: within its budget, the chain and excerpt in it, no secret from env, log or source.
    const prompt = await text(dir, 'prompt-001.md');
    expect(prompt.length).toBeLessThanOrEqual(PROMPT_BUDGET);
    expect(prompt).toContain('`pricing.py:5` (innermost frame in your source)');
    expect(prompt).toContain('5|     return subtotal / n');
    expect(prompt).toContain('- Build context (the only folder to edit): `.`');
    expect(prompt).not.toContain(SECRET);
    expect(prompt).not.toContain(dir);
    expect(await text(dir, 'prompt-latest.md')).toBe(prompt);

    // Cycle 2: the notes under their own heading, after the fix step and before the measured results.
    const md2 = await text(dir, 'cycle-002.md');
    const at = (s: string) => md2.indexOf(s);
    expect(at('## The fix command says')).toBeGreaterThan(at('## Fix step'));
    expect(at('## The fix command says')).toBeLessThan(at('## Results by priority'));
    expect(md2).toContain('n is never 0 now');
    expect(md2).not.toContain('\x1b');
    expect(md2).not.toContain('\x07');
    expect(md2).not.toContain(SECRET);
    const rec2 = await json<CycleReportJson>(dir, 'cycle-002.json');
    const notes = rec2.record.fix!.notes!;
    expect(notes).toContain('\\x1B[2J\\x07 n is never 0 now');
    expect(notes).toContain('\\::error::hijack');
    expect(notes).not.toMatch(/^::/m);
    expect(notes).toContain('key [redacted]');
    expect(rec2.verdict).toBe('passed');
    // The HTML page carries the notes for its "The fix command says" box, and cycle 1's chain.
    const html = await text(dir, 'index.html');
    expect(html).toContain('n is never 0 now');
    expect(html).toContain('"file":"pricing.py","line":5');
    expect(html).not.toContain(SECRET);
  }, 90_000);

  it.skipIf(browserSkipReason !== undefined)('the HTML page shows the notes apart in cycle 2 and the chain in cycle 1\'s evidence (headless Chromium)', async () => {
    expect(pythonRun, 'the run of the first test').toBeDefined();
    const browser = await launch();
    try {
      const { page, errors } = await openOffline(browser, join(pythonRun!, 'reports', 'index.html'));
      expect(errors).toEqual([]);
      const notes = await page.evaluate(`(() => {
        const box = document.querySelector('section.cycle[data-cycle="2"] .fix-notes');
        const fix = document.querySelector('section.cycle[data-cycle="2"] div.fix');
        return box ? { heading: box.querySelector('h3').textContent, text: box.querySelector('pre').textContent, afterFix: fix !== null && fix.nextElementSibling === box } : null;
      })()`);
      expect(notes).toMatchObject({ heading: 'The fix command says', afterFix: true });
      expect((notes as { text: string }).text).toContain('n is never 0 now');
      await page.evaluate(`location.hash = 'cycle-1'`);
      await page.waitForFunction(`document.querySelector('.chain') !== null`, undefined, { timeout: 10_000 });
      const chain = (await page.evaluate(`document.querySelector('.chain').textContent`)) as string;
      expect(chain).toContain('frame (build context): pricing.py:5, the innermost frame in your source');
      expect(chain).toContain('5|     return subtotal / n');
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('a failure whose log names no file of the context gets the missing-link wording, not a guessed frame', async () => {
    const dir = await scratchDir('fix-agent-missing');
    dirs.push(dir);
    await writeFiles(dir, { 'server.py': PYTHON_SERVICE });
    const base = pythonConfig({ env: { FAULT: '1' } });
    await writeConfig(dir, { ...base, build: { kind: 'command', context: '.' } });
    const r = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr.slice(-3000)).toBe(1);
    const chain = (await json<CycleReportJson>(dir, 'cycle-001.json')).issues[0]!.chain!;
    expect(chain[1]!.missing).toBeUndefined();
    expect(chain[1]!.text).toContain('GET /healthz');
    expect(chain[2]).toEqual({ kind: 'frame', source: 'build context', text: 'no frame in your source: the log record names no file of the build context', missing: true });
    expect(await text(dir, 'cycle-001.md')).toContain('3. frame (build context): _no frame in your source: the log record names no file of the build context_');
  }, 60_000);
});
