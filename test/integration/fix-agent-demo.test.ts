/**
 * The demo with the scripted stand-in agent as its fix command, through the real CLI: cycle 1's
 * agent-pipeline issue carries an evidence chain that ends at pipeline.mjs with the line number of
 * examples/chat-service's own source (not a build copy's path); the stand-in reads the prompt, edits
 * the file the chain names, writes its notes, and cycle 2 passes.
 */
import { cpSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { runCommand } from '../../src/exec.js';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CycleReportJson } from '../../src/model/report.js';
import { ROOT, removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { writeConfig, type ConfigInput } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

const EXAMPLE = join(ROOT, 'examples', 'chat-service');

/** The demo's config (loop.config.yaml), cut to the checks that show the fault, with the stand-in agent as the fix. */
function demoConfig(): ConfigInput {
  return {
    apiVersion: 'deploy-loop/v1',
    service: 'chat-service',
    build: { kind: 'command', context: 'app', command: [process.execPath, 'scripts/check.mjs'] },
    target: { kind: 'local', command: [process.execPath, 'server.mjs'], readiness: { path: '/healthz', timeoutMs: 10_000 } },
    smoke: {
      defaults: { timeoutMs: 3000 },
      checks: [
        { name: 'health', kind: 'http', priority: 'P0', path: '/healthz', expect: { status: 200, json: { ok: true } } },
        {
          name: 'agent-pipeline',
          kind: 'websocket',
          priority: 'P0',
          path: '/ws/agent',
          script: [
            { send: { type: 'user', text: 'What is the weather in Zurich?' } },
            { expect: { json: { type: 'ack' } } },
            { expect: { json: { type: 'tool_call', tool: 'weather' } } },
            { expect: { json: { type: 'final' } }, timeoutMs: 2000 },
          ],
        },
      ],
    },
    gate: { P0: 100 },
    loop: { maxCycles: 2, fix: { command: [process.execPath, join(ROOT, 'examples', 'stand-in-agent.mjs')] } },
  };
}

/** The 1-based line of examples/chat-service/pipeline.mjs that throws: `JSON.stringify(frame)` in encode(). */
function throwingLine(): number {
  const lines = readFileSync(join(EXAMPLE, 'pipeline.mjs'), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('return JSON.stringify(frame);'));
  expect(i).toBeGreaterThanOrEqual(0);
  return i + 1;
}

describe('the demo with the stand-in agent', () => {
  it("ends cycle 1's chain at pipeline.mjs:LINE of the example's source, and the stand-in's edit makes cycle 2 pass", async () => {
    const dir = await scratchDir('fix-agent-demo');
    dirs.push(dir);
    cpSync(EXAMPLE, join(dir, 'app'), { recursive: true });
    await writeConfig(dir, demoConfig());
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);

    const line = throwingLine();
    const one = JSON.parse(await readFile(join(dir, 'reports', 'cycle-001.json'), 'utf8')) as CycleReportJson;
    const issue = one.issues.find((i) => i.check === 'agent-pipeline')!;
    const frame = issue.chain!.at(-1)!;
    expect(frame).toMatchObject({ kind: 'frame', source: 'build context', file: 'pipeline.mjs', line });
    expect(frame.excerpt).toContain(`${line}|   return JSON.stringify(frame);`);
    expect(issue.chain![1]!.text).toContain('TypeError: Do not know how to serialize a BigInt');
    const md = await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8');
    expect(md).toContain(`frame (build context): \`pipeline.mjs:${line}\`, the innermost frame in your source`);

    // The stand-in edited the context's copy (not the example), as the chain named it.
    const fixed = readFileSync(join(dir, 'app', 'pipeline.mjs'), 'utf8');
    expect(fixed).not.toMatch(/\bBigInt\(/);
    expect(readFileSync(join(EXAMPLE, 'pipeline.mjs'), 'utf8')).toMatch(/\bBigInt\(/);
    const two = JSON.parse(await readFile(join(dir, 'reports', 'cycle-002.json'), 'utf8')) as CycleReportJson;
    expect(two.verdict).toBe('passed');
    expect(two.record.fix!.outputTail.join('\n')).toContain(`the chain ends at pipeline.mjs:${line}`);
    expect(two.record.fix!.notes).toContain(`the chain ends at \`pipeline.mjs:${line}\``);
    const md2 = await readFile(join(dir, 'reports', 'cycle-002.md'), 'utf8');
    expect(md2).toContain('## The fix command says');
    expect(md2).toContain('2 `BigInt(...)` calls became `Number(...)`');

    // `npm start` begins with scripts/reset-demo.mjs, which clears reports/ only when deploy-loop
    // wrote everything in it: every file and folder this real run left must be one it recognises.
    cpSync(join(ROOT, 'scripts', 'reset-demo.mjs'), join(dir, 'scripts', 'reset-demo.mjs'));
    cpSync(EXAMPLE, join(dir, 'examples', 'chat-service'), { recursive: true });
    const reset = await runCommand([process.execPath, join(dir, 'scripts', 'reset-demo.mjs')], { cwd: dir });
    expect(reset.outputTail.join('\n')).toMatch(/cleared reports\//);
  }, 120_000);

  it('changes nothing and exits 1 when the chain names a fault it has no repair for, or a file outside the context', async () => {
    const dir = await scratchDir('fix-agent-stand-in');
    dirs.push(dir);
    const source = 'def total(items):\n    return sum(items) / 0\n';
    await writeFile(join(dir, 'pricing.py'), source);
    const prompt = (file: string) => [
      '# Fix brief: pysvc, after cycle 1',
      '- Build context (the only folder to edit): `.`',
      '## Remaining issues, most important first',
      '### 1. [P0] price: http-5xx',
      '1. symptom, from smoke check: `price: http-5xx, HTTP 500`',
      "2. log, from service log, this check's window: `ZeroDivisionError: division by zero`",
      `3. frame, from build context: \`${file}:2\` (innermost frame in your source)`,
      '',
    ].join('\n');
    const run = async (file: string) => {
      await writeFile(join(dir, 'prompt.md'), prompt(file));
      await writeFile(join(dir, 'notes.md'), '');
      const res = await runCommand([process.execPath, join(ROOT, 'examples', 'stand-in-agent.mjs')], {
        cwd: dir,
        env: { DEPLOY_LOOP_PROMPT_MD: join(dir, 'prompt.md'), DEPLOY_LOOP_FIX_NOTES: join(dir, 'notes.md') },
      });
      return { code: res.exitCode, notes: await readFile(join(dir, 'notes.md'), 'utf8') };
    };
    const unknown = await run('pricing.py');
    expect(unknown.code).toBe(1);
    expect(unknown.notes).toContain('I changed nothing');
    expect(unknown.notes).toContain('`pricing.py:2`');
    expect(readFileSync(join(dir, 'pricing.py'), 'utf8')).toBe(source);
    const outside = await run('../../package.json');
    expect(outside.code).toBe(1);
    expect(outside.notes).toContain('outside the build context');
  }, 60_000);
});
