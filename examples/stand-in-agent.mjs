/**
 * A scripted stand-in for a coding agent, run as the fix command (loop.fix.command) so the demo can
 * run with or without a real agent. It does what an agent is asked to do, in the smallest honest way:
 *
 *   1. read the brief deploy-loop wrote (DEPLOY_LOOP_PROMPT_MD);
 *   2. take the first evidence chain that ends at a frame in the user's source (`file:line`) and the
 *      error line the chain quotes from the service's log;
 *   3. edit that file, inside the build context the brief names, with the one repair it knows:
 *      a value JSON cannot serialise ("Do not know how to serialize a BigInt") is built with
 *      Number(...) instead of BigInt(...);
 *   4. write what it did to DEPLOY_LOOP_FIX_NOTES, which the next report shows as the fixer's claim.
 *
 * It knows no other repair: on any other error it changes nothing, says so in its notes and exits 1,
 * as an agent that could not fix the issue would. Exit 0 when it fixed the file or there was nothing
 * to fix. No dependency but Node.
 */
import { existsSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

const say = (msg) => process.stdout.write(`stand-in-agent: ${msg}\n`);
const notesPath = process.env.DEPLOY_LOOP_FIX_NOTES;
const notes = [];
const finish = (code) => {
  if (notesPath) writeFileSync(notesPath, `${notes.join('\n')}\n`);
  process.exit(code);
};

const promptPath = process.env.DEPLOY_LOOP_PROMPT_MD;
if (!promptPath) {
  process.stderr.write('stand-in-agent: DEPLOY_LOOP_PROMPT_MD is not set; run me as deploy-loop\'s loop.fix.command\n');
  process.exit(2);
}
const prompt = readFileSync(promptPath, 'utf8');

// "- Build context (the only folder to edit): `.deploy-loop/demo/chat-service`"
const context = /^- Build context \(the only folder to edit\): `([^`]+)`/m.exec(prompt)?.[1];
if (!context) {
  notes.push('I could not find the build context in the brief, so I changed nothing.');
  finish(1);
}

// The first issue whose chain ends at a frame: "N. frame, from build context: `file:line` (innermost frame in your source)".
const issues = prompt.split(/^### /m).slice(1);
let target;
for (const issue of issues) {
  const frame = /^\d+\. frame, from [^:]+: `([^`]+):(\d+)` \(innermost frame in your source\)/m.exec(issue);
  if (!frame) continue;
  const log = /^\d+\. log, from [^:]+: (`+)(.*?)\1/m.exec(issue)?.[2] ?? '';
  target = { title: issue.split('\n')[0], file: frame[1], line: Number(frame[2]), log };
  break;
}
if (!target) {
  const none = issues.length === 0 ? 'The brief lists no issue; nothing to fix.' : 'No evidence chain in the brief ends at a frame in the source, so I do not know which file to edit; I changed nothing.';
  say(none);
  notes.push(none);
  finish(issues.length === 0 ? 0 : 1);
}

const root = resolve(context);
const file = resolve(root, target.file);
// Only inside the build context, as the brief's rules say (a symlink out of it is refused too).
const within = (base, p) => {
  const rel = relative(base, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};
const why = !within(root, file)
  ? 'which is outside the build context'
  : !existsSync(file)
    ? 'which does not exist in the build context'
    : !within(realpathSync(root), realpathSync(file))
      ? 'which links outside the build context'
      : undefined;
if (why) {
  notes.push(`The chain names \`${target.file}\`, ${why}; I changed nothing.`);
  finish(1);
}
say(`issue ${target.title}`);
say(`the chain ends at ${target.file}:${target.line}; the log says: ${target.log}`);

if (!/serialize a BigInt/.test(target.log)) {
  notes.push(
    `## ${target.title}`,
    '',
    `The chain ends at \`${target.file}:${target.line}\` with the log line \`${target.log}\`.`,
    'I am a scripted stand-in and know only one repair (a BigInt that JSON cannot serialise); I changed nothing.',
  );
  finish(1);
}

const source = readFileSync(file, 'utf8');
const count = (source.match(/\bBigInt\(/g) ?? []).length;
if (count === 0) {
  notes.push(`\`${target.file}\` builds no BigInt any more; I changed nothing. The cause may be elsewhere.`);
  finish(1);
}
const patched = source.replace(/\bBigInt\(/g, 'Number(');
// Write beside and rename, so a build that starts right now sees the old file or the new one.
const tmp = `${file}.stand-in-${process.pid}.tmp`;
writeFileSync(tmp, patched);
renameSync(tmp, file);
const shown = join(context, target.file);
say(`patched ${shown}: ${count} BigInt(...) → Number(...)`);
notes.push(
  `## ${target.title}`,
  '',
  `- Evidence: the chain ends at \`${target.file}:${target.line}\`; the service logged \`${target.log}\`.`,
  `- Change: in \`${target.file}\`, ${count} \`BigInt(...)\` calls became \`Number(...)\`, so every frame the pipeline sends can be serialised by JSON.stringify.`,
  '- Expected: the check passes in the next cycle (deploy-loop will measure it).',
);
finish(0);
