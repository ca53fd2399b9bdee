/**
 * Suite integrity: the smoke suite and the gate are fingerprinted every cycle. A change that could
 * let a cycle pass by weakening its own tests (a check removed or edited, a priority lowered, a
 * threshold loosened) blocks the gate until a person runs `deploy-loop accept-suite`. The opt-out
 * is deliberately not a config key: the config is what the fix step can edit.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckConfig, GateConfig } from '../config/schema.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { redactDeep } from '../redact.js';
import { PRIORITIES, type Priority } from '../model/check-result.js';
import { historyDir } from './history.js';
import type { CycleRecord, SuiteChange, SuiteFingerprint, SuiteIntegrity } from '../model/record.js';

export type { SuiteChange, SuiteChangeKind, SuiteFingerprint, SuiteIntegrity } from '../model/record.js';

/** JSON with object keys sorted, so the same config always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Secret values (tokens in headers) are masked before hashing: rotating a credential is not a
 * change to the suite, and a hash of a short secret should not be stored.
 */
export function fingerprintSuite(checks: readonly CheckConfig[], gate: GateConfig, secrets: readonly string[] = []): SuiteFingerprint {
  const sorted = redactDeep([...checks], secrets).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const thresholds: Partial<Record<Priority, number>> = {};
  for (const p of PRIORITIES) if (gate[p] !== undefined) thresholds[p] = gate[p];
  const gatePart = { thresholds, allowFlaky: gate.allowFlaky === true };
  const perCheck: SuiteFingerprint['checks'] = {};
  for (const c of sorted) perCheck[c.name] = { priority: c.priority, sha256: sha256(canonicalJson(c)) };
  return { sha256: sha256(canonicalJson({ checks: sorted, gate: gatePart })), checks: perCheck, gate: gatePart };
}

export function diffSuites(before: SuiteFingerprint, after: SuiteFingerprint): SuiteChange[] {
  const changes: SuiteChange[] = [];
  const rank = (p: Priority) => PRIORITIES.indexOf(p);
  for (const [name, b] of Object.entries(before.checks)) {
    const a = after.checks[name];
    if (!a) {
      changes.push({ kind: 'check-removed', subject: name, text: `check "${name}" (${b.priority}) was removed`, weakening: true });
      continue;
    }
    if (rank(a.priority) > rank(b.priority)) {
      changes.push({ kind: 'priority-lowered', subject: name, text: `check "${name}" was lowered from ${b.priority} to ${a.priority}`, weakening: true });
    } else if (rank(a.priority) < rank(b.priority)) {
      changes.push({ kind: 'priority-raised', subject: name, text: `check "${name}" was raised from ${b.priority} to ${a.priority}`, weakening: false });
    } else if (a.sha256 !== b.sha256) {
      // An edited check may have a looser assertion; the hash cannot tell, so it counts as weakening.
      changes.push({ kind: 'check-changed', subject: name, text: `check "${name}" (${a.priority}) was edited`, weakening: true });
    }
  }
  for (const [name, a] of Object.entries(after.checks)) {
    if (!before.checks[name]) changes.push({ kind: 'check-added', subject: name, text: `check "${name}" (${a.priority}) was added`, weakening: false });
  }
  for (const p of PRIORITIES) {
    const b = before.gate.thresholds[p];
    const a = after.gate.thresholds[p];
    if (b === a) continue;
    const show = (v: number | undefined) => (v === undefined ? 'not gated' : `${v}%`);
    const loosened = b !== undefined && (a === undefined || a < b);
    changes.push({
      kind: loosened ? 'threshold-loosened' : 'threshold-tightened',
      subject: p,
      text: `the ${p} threshold went from ${show(b)} to ${show(a)}`,
      weakening: loosened,
    });
  }
  if (before.gate.allowFlaky !== after.gate.allowFlaky) {
    const allowed = after.gate.allowFlaky;
    changes.push({
      kind: allowed ? 'flaky-allowed' : 'flaky-disallowed',
      subject: 'allowFlaky',
      text: allowed ? 'the gate now counts flaky passes (allowFlaky: true)' : 'the gate no longer counts flaky passes',
      weakening: allowed,
    });
  }
  return changes;
}

/**
 * Compares with the latest recorded cycle of the service. A weakening that blocked that cycle and
 * is still in place keeps blocking: running another cycle does not launder it.
 */
export function assessIntegrity(current: SuiteFingerprint, previous: CycleRecord | undefined, acceptedSha: string | undefined): SuiteIntegrity {
  const accepted = acceptedSha === current.sha256;
  const prev = previous?.suite;
  let changes: SuiteChange[] = [];
  if (prev) {
    changes = diffSuites(prev.fingerprint, current);
    if (changes.length === 0 && prev.blocked) changes = prev.changes;
  }
  const integrity: SuiteIntegrity = {
    fingerprint: current,
    changes,
    accepted,
    blocked: !accepted && changes.some((c) => c.weakening),
  };
  if (previous && prev) integrity.comparedWithCycle = previous.cycle;
  return integrity;
}

/** The reason the gate states for a blocked suite. */
export function integrityBlocker(integrity: SuiteIntegrity): string[] {
  if (!integrity.blocked) return [];
  const weak = integrity.changes.filter((c) => c.weakening).map((c) => c.text);
  return [`the smoke suite or gate was weakened (${weak.join('; ')}); a person must run deploy-loop accept-suite before a cycle can pass`];
}

export interface AcceptedSuite {
  sha256: string;
  acceptedAt: string;
  fingerprint: SuiteFingerprint;
}

export function acceptedSuiteFile(reportsDir: string): string {
  return join(historyDir(reportsDir), 'accepted-suite.json');
}

export async function readAcceptedSuite(reportsDir: string): Promise<AcceptedSuite | undefined> {
  try {
    return JSON.parse(await readFile(acceptedSuiteFile(reportsDir), 'utf8')) as AcceptedSuite;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function writeAcceptedSuite(reportsDir: string, fingerprint: SuiteFingerprint, now: Date = new Date()): Promise<string> {
  const file = acceptedSuiteFile(reportsDir);
  const body: AcceptedSuite = { sha256: fingerprint.sha256, acceptedAt: now.toISOString(), fingerprint };
  await writeFileAtomic(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}
