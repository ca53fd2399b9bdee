/**
 * Stack frames that point into a build copy (`.deploy-loop/builds/svc/c001-3f2a…/pipeline.mjs:46`)
 * mapped back to the file in the build context, which is the file a person or a fix command edits.
 * The copy is the context tree itself (src/build/command.ts), so the mapping is a prefix swap; it
 * covers Node (`at f (/…/x.mjs:46:11)`, `file:///…/x.mjs:46`), Python (`File "/…/x.py", line 12`)
 * and Go (`\t/…/main.go:12 +0x1d`) frames alike, and any other text naming those files. Pure.
 */

export interface FrameMapping {
  /** The context folder the copies were made from (absolute). */
  contextDir: string;
  /** The build copy the revision ran from (absolute); other copies under .deploy-loop/builds are mapped too. */
  buildDir?: string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `…/.deploy-loop/builds/SERVICE/cNNN-…/` (and its file:// URL form): any cycle's copy, staging ones too. */
const ANY_BUILD_COPY = /(?:file:\/\/)?(?:\/[^\s"'()<>:]*)?\/\.deploy-loop\/builds\/[^/\s"'()<>]+\/[^/\s"'()<>]+\//g;

/** `text` with every path into a build copy rewritten to the same path in the context folder. */
export function mapBuildFrames(text: string, m: FrameMapping): string {
  const context = m.contextDir.replace(/\/+$/, '');
  let out = text;
  if (m.buildDir) {
    const build = escapeRegExp(m.buildDir.replace(/\/+$/, ''));
    out = out.replace(new RegExp(`(?:file://)?${build}/`, 'g'), `${context}/`);
  }
  return out.replace(ANY_BUILD_COPY, `${context}/`);
}
