/**
 * The demo's fix command: deploy-loop runs it between cycles (loop.fix.command) with the last
 * report's paths in its environment. It plays the part of the engineer or agent acting on a report:
 * read the evidence, find the cause, patch the working copy.
 *
 *   DEPLOY_LOOP_REPORT_JSON  the cycle's JSON report (read tolerantly: any failure with close code
 *                            1011 or a message naming BigInt counts as evidence)
 *   DEPLOY_LOOP_CYCLE        the cycle the report is from (only printed)
 *   DEPLOY_LOOP_DEMO_DIR     working copy to patch; default .deploy-loop/demo/chat-service
 *
 * Exit 0 when it fixed the fault or there was nothing to fix; 1 when the working copy is missing.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const say = (msg) => process.stdout.write(`fix: ${msg}\n`);

const dir = resolve(process.env.DEPLOY_LOOP_DEMO_DIR ?? join(process.cwd(), '.deploy-loop', 'demo', 'chat-service'));
const file = join(dir, 'pipeline.mjs');
if (!existsSync(file)) {
  process.stderr.write(`fix: ${file} is missing; run \`node scripts/reset-demo.mjs\` to create the demo working copy\n`);
  process.exit(1);
}

const reportPath = process.env.DEPLOY_LOOP_REPORT_JSON;
const cycle = process.env.DEPLOY_LOOP_CYCLE ?? '?';
if (reportPath) {
  const evidence = findEvidence(reportPath);
  if (evidence?.length === 0) {
    say(`the cycle ${cycle} report (${reportPath}) shows no 1011 close or BigInt error; nothing here to fix`);
    process.exit(0);
  }
  for (const e of evidence ?? []) say(`cycle ${cycle} report: ${e}`);
} else {
  say('no report given (DEPLOY_LOOP_REPORT_JSON is unset); inspecting pipeline.mjs directly');
}

const source = readFileSync(file, 'utf8');
const patched = patch(source);
if (patched === source) {
  say(`${relative(process.cwd(), file) || file} already keeps usage as plain numbers; nothing to change`);
  process.exit(0);
}
// Write beside and rename, so a build that starts right now sees the old file or the new one.
const tmp = `${file}.fix-${process.pid}.tmp`;
writeFileSync(tmp, patched);
renameSync(tmp, file);
say(`patched ${relative(process.cwd(), file) || file}: token usage is built with Number(...) instead of BigInt(...),`);
say('so JSON.stringify can serialise the final frame (it throws "Do not know how to serialize a BigInt")');

/** The cause: usage counts built as BigInt, which JSON.stringify refuses. */
function patch(text) {
  return text
    .replace(/\bBigInt\(/g, 'Number(')
    .replace(
      /Precise token accounting: counts are kept as BigInt so long-running sessions can sum them\n(\s*\*) without ever losing precision past Number\.MAX_SAFE_INTEGER\./,
      'Token accounting: counts are plain numbers, because JSON cannot carry a BigInt\n$1 and token counts stay far below Number.MAX_SAFE_INTEGER.',
    );
}

/** Lines describing every failure in the report that points at this fault; null when unreadable. */
function findEvidence(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    say(`cannot read the report ${path} (${err.code ?? err.message}); inspecting pipeline.mjs directly`);
    return null;
  }
  let report;
  try {
    report = JSON.parse(text);
  } catch {
    // Not JSON after all: fall back to the raw text.
    return /BigInt|\b1011\b/.test(text) ? ['the report text mentions BigInt or close code 1011'] : [];
  }
  // One line per check: attempts and retries repeat the same evidence.
  const found = new Map();
  walk(report, undefined, found);
  return [...found].map(([name, { what }]) => `${name}: ${what}`);
}

function walk(value, checkName, found) {
  if (Array.isArray(value)) {
    for (const v of value) {
      if (typeof v === 'string' && /BigInt/.test(v)) note(found, checkName, v.trim());
      else walk(v, checkName, found);
    }
    return;
  }
  if (!value || typeof value !== 'object') return;
  // Check results carry `name`, the report's issue list `check`.
  const named = [value.name, value.check].find((n) => typeof n === 'string');
  const name = named ?? checkName;
  const reason = typeof value.closeReason === 'string' ? value.closeReason : '';
  const message = typeof value.message === 'string' ? value.message : '';
  if (value.closeCode === 1011 || /BigInt/.test(reason) || /BigInt/.test(message)) {
    if (value.closeCode !== undefined) note(found, name, `closed with ${value.closeCode}${reason ? ` "${reason}"` : ''}`, true);
    else note(found, name, message);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'object') walk(v, name, found);
    else if (typeof v === 'string' && k !== 'message' && k !== 'closeReason' && /BigInt/.test(v)) note(found, name, v.trim());
  }
}

/** Keeps one line per check; the close code and reason (`exact`) beat a longer message. */
function note(found, name, what, exact = false) {
  const key = name ?? 'the report';
  const seen = found.get(key);
  if (!seen || (exact && !seen.exact)) found.set(key, { what, exact });
}
