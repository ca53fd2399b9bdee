/**
 * Reading image builders' output: which step a build was in when it failed, and the digest a push
 * reported. Pure functions over lines, shared by the podman/docker and Cloud Build builders.
 */
import { truncateRedacted } from '../redact.js';

export interface BuildStep {
  /** 1-based step number, when the builder numbers its steps. */
  index?: number;
  total?: number;
  /** The instruction, e.g. `RUN ["node", "scripts/check.mjs"]`. */
  text: string;
}

// podman/buildah: "STEP 6/10: RUN ...". Docker's legacy builder: "Step 6/10 : RUN ...".
const NUMBERED_STEP = /^(?:STEP|Step) (\d+)\/(\d+)\s*:\s*(.*)$/;
// BuildKit (docker buildx): "#9 [stage 3/5] RUN ..." or "#9 [3/5] RUN ...".
const BUILDKIT_STEP = /^#\d+ \[(?:[^\]\s]+ )?(\d+)\/(\d+)\] (.*)$/;
// Cloud Build prefixes every line of a build config step with "Step #N: " or "Step #N - "id": ".
const CLOUDBUILD_PREFIX = /^Step #(\d+)(?: - "([^"]*)")?:\s?(.*)$/;

/** The Dockerfile step a line announces, or undefined for any other line. */
export function parseStepLine(line: string): BuildStep | undefined {
  const m = NUMBERED_STEP.exec(line) ?? BUILDKIT_STEP.exec(line);
  if (!m) return undefined;
  return { index: Number(m[1]), total: Number(m[2]), text: (m[3] ?? '').trim() };
}

/**
 * Follows streamed output and remembers the last step that started, so a failure can name it even
 * when the output is longer than the kept tail. A Dockerfile step is more telling than the Cloud
 * Build step that wraps it, so it wins.
 */
export class StepTracker {
  private dockerfileStep: BuildStep | undefined;
  private outerStep: BuildStep | undefined;

  push(line: string): void {
    let inner = line;
    const cloud = CLOUDBUILD_PREFIX.exec(line);
    if (cloud) {
      const id = cloud[2] ? `"${cloud[2]}"` : `#${cloud[1]}`;
      this.outerStep = { text: `Cloud Build step ${id}` };
      inner = cloud[3] ?? '';
    }
    const step = parseStepLine(inner);
    if (step) this.dockerfileStep = step;
  }

  /** The step to blame, most specific first. */
  current(): BuildStep | undefined {
    return this.dockerfileStep ?? this.outerStep;
  }
}

export function describeStep(step: BuildStep): string {
  // Redact before cutting: a cut can leave a secret's prefix that no rule recognises any more.
  const text = truncateRedacted(step.text, 160);
  if (step.index === undefined) return text;
  const num = step.total !== undefined ? `step ${step.index}/${step.total}` : `step ${step.index}`;
  return text ? `${num} (${text})` : num;
}

/** A content digest, validated: `sha256:` and 64 hex digits. */
export function isDigest(s: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

/**
 * The digest a push reported, from the last line that carries one: Docker's and Cloud Build's
 * `TAG: digest: sha256:… size: N`, or a JSON field `"digest": "sha256:…"`.
 */
export function findPushedDigest(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    const m = /\bdigest: (sha256:[0-9a-f]{64})\b/.exec(line) ?? /"digest"\s*:\s*"(sha256:[0-9a-f]{64})"/.exec(line);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** The digest of `repository` among an image's RepoDigests (`REPOSITORY@sha256:…`, from `inspect`). */
export function pickRepoDigest(repoDigests: readonly string[], repository: string): string | undefined {
  for (const entry of repoDigests) {
    const at = entry.lastIndexOf('@');
    if (at > 0 && entry.slice(0, at) === repository && isDigest(entry.slice(at + 1))) return entry.slice(at + 1);
  }
  return undefined;
}
