/**
 * CI outputs: the GitHub step summary (verdict, gate and remaining issues in markdown) and
 * workflow-command annotations for failing P0 and P1 checks. Pure: callers decide where they go.
 */
import { isAbsolute, relative } from 'node:path';
import type { CycleRecord } from '../model/record.js';
import { renderIssues } from './markdown-checks.js';
import { renderCycleDigest } from './markdown.js';
import { summarizeCycle } from './summary.js';
import { safeAnnotationData, safeAnnotationProperty } from '../terminal-safe.js';

/** The part of the cycle report a CI run page shows: header, suite change, gate, remaining issues. */
export function renderStepSummary(current: CycleRecord, history: CycleRecord[], runLine?: string): string {
  const s = summarizeCycle(current, history);
  const parts = [renderCycleDigest(s), renderIssues(s)];
  if (runLine) parts.unshift(runLine);
  return `${parts.join('\n\n')}\n\n`;
}

// Workflow commands: data escapes %, CR, LF (and control bytes from the service, visibly); property values also : and ,.
const escapeData = safeAnnotationData;
const escapeProperty = safeAnnotationProperty;

/** `file:line` split at the last colon; a path made relative to `root` when absolute (GitHub wants repo paths). */
function splitLocation(location: string, root: string): { file: string; line?: number } {
  const m = /^(.*):(\d+)$/.exec(location);
  const file = m ? m[1]! : location;
  const shown = isAbsolute(file) ? relative(root, file) : file;
  return m ? { file: shown, line: Number(m[2]) } : { file: shown };
}

/** One `::error` line per failing P0 or P1 issue of the cycle, pointing at the check in the config. */
export function renderAnnotations(current: CycleRecord, history: CycleRecord[], root: string): string[] {
  const s = summarizeCycle(current, history);
  return s.issues
    .filter((i) => i.priority === 'P0' || i.priority === 'P1')
    .map((i) => {
      const props: string[] = [];
      if (i.location) {
        const loc = splitLocation(i.location, root);
        props.push(`file=${escapeProperty(loc.file)}`);
        if (loc.line !== undefined) props.push(`line=${loc.line}`);
      }
      props.push(`title=${escapeProperty(`[${i.priority}] ${i.check}: ${i.class}`)}`);
      return `::error ${props.join(',')}::${escapeData(`cycle ${current.cycle}: ${i.message}`)}`;
    });
}
