/**
 * Reads the source lines behind the frames chain.ts finds, from the build that ran (the build copy,
 * else the context): what the revision executed, not what the fix step made of the context since.
 */
import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { CheckResult } from '../model/check-result.js';
import { innermostUserFrame, withSourceFrames } from './chain.js';

/** Source files larger than this are not read for an excerpt. */
const MAX_SOURCE_BYTES = 2_000_000;

async function readInside(dir: string, file: string): Promise<string | undefined> {
  try {
    const root = await realpath(dir);
    const path = await realpath(join(root, file));
    // A symlink out of the tree is not the user's build context.
    if (!path.startsWith(root + sep)) return undefined;
    const buf = await readFile(path);
    return buf.length > MAX_SOURCE_BYTES || buf.includes(0) ? undefined : buf.toString('utf8');
  } catch {
    return undefined;
  }
}

/** Failing results with `evidence.frame` filled from `buildDir` (or `contextDir`); see withSourceFrames. */
export async function attachSourceFrames(results: readonly CheckResult[], where: { contextDir: string; buildDir?: string }): Promise<CheckResult[]> {
  const files = new Set<string>();
  for (const r of results) {
    const tail = r.failure?.evidence.logTail;
    const found = tail ? innermostUserFrame(tail, where.contextDir) : undefined;
    if (found) files.add(found.file);
  }
  const texts = new Map<string, string>();
  for (const file of files) {
    const text = (where.buildDir ? await readInside(where.buildDir, file) : undefined) ?? (await readInside(where.contextDir, file));
    if (text !== undefined) texts.set(file, text);
  }
  return withSourceFrames(results, where.contextDir, (file) => texts.get(file));
}
