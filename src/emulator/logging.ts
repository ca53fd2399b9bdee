/**
 * Cloud Logging as Cloud Run fills it, for the emulator's revisions: each line a revision process
 * prints is a LogEntry of resource.type "cloud_run_revision" (logName run.googleapis.com/stdout),
 * and a failed start adds Cloud Run's own lines to run.googleapis.com/varlog/system. Served as
 * google.logging.v2.LoggingServiceV2/ListLogEntries on the Run API's gRPC port, so the real
 * @google-cloud/logging client reads rehearsal evidence exactly as it reads production's.
 *
 * The filter language is the subset `gcloud run revisions logs read` and deploy-loop use:
 * comparisons (`=`, `!=`, `>`, `>=`, `<`, `<=`, `:`) of a field with a quoted value, joined by AND
 * (or newlines). Anything else is INVALID_ARGUMENT, listed as a divergence in the fidelity notes.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../log.js';
import { ApiError, Code, timestamp, type Timestamp } from './types.js';

export type Severity = 'DEFAULT' | 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'ALERT' | 'EMERGENCY';
const SEVERITY_ORDER: Severity[] = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];

export interface LogEntry {
  logName: string;
  resource: { type: string; labels: Record<string, string> };
  timestamp: Timestamp;
  receiveTimestamp: Timestamp;
  severity: Severity;
  insertId: string;
  textPayload: string;
  labels: Record<string, string>;
}

/** Lines kept per revision; the oldest go first. */
const MAX_PER_REVISION = 5000;

export class LogStore {
  private readonly byRevision = new Map<string, LogEntry[]>();
  private seq = 0;

  /** A line of a revision's output (`revisionKey` is projects/P/locations/L/services/S/revisions/R). */
  append(revisionKey: string, text: string, opts: { severity?: Severity; log?: 'stdout' | 'stderr' | 'varlog/system'; at?: number } = {}): void {
    const m = /^projects\/([^/]+)\/locations\/([^/]+)\/services\/([^/]+)\/revisions\/([^/]+)$/.exec(revisionKey);
    if (!m) return;
    const [, project, location, service, revision] = m as unknown as [string, string, string, string, string];
    const at = opts.at ?? Date.now();
    const entry: LogEntry = {
      logName: `projects/${project}/logs/${encodeURIComponent(`run.googleapis.com/${opts.log ?? 'stdout'}`)}`,
      resource: {
        type: 'cloud_run_revision',
        labels: { project_id: project, location, service_name: service, revision_name: revision, configuration_name: service },
      },
      timestamp: timestamp(at),
      receiveTimestamp: timestamp(Date.now()),
      severity: opts.severity ?? 'DEFAULT',
      // Increasing, so entries with the same timestamp keep their order.
      insertId: `${(++this.seq).toString(16).padStart(8, '0')}${randomBytes(4).toString('hex')}`,
      textPayload: text,
      labels: { instanceId: `emulator-${revision}` },
    };
    let list = this.byRevision.get(revisionKey);
    if (!list) {
      list = [];
      this.byRevision.set(revisionKey, list);
    }
    list.push(entry);
    if (list.length > MAX_PER_REVISION) list.splice(0, list.length - MAX_PER_REVISION);
  }

  /** Whether the revision has written anything yet. */
  has(revisionKey: string): boolean {
    return (this.byRevision.get(revisionKey)?.length ?? 0) > 0;
  }

  list(req: { resourceNames: string[]; filter: string; orderBy: string; pageSize: number; pageToken: string }): { entries: LogEntry[]; nextPageToken: string } {
    if (req.resourceNames.length === 0) throw new ApiError(Code.INVALID_ARGUMENT, 'resource_names: at least one resource name is required.');
    const projects = new Set<string>();
    for (const r of req.resourceNames) {
      const m = /^projects\/([^/]+)$/.exec(r);
      if (!m) throw new ApiError(Code.INVALID_ARGUMENT, `resource_names: "${r}" is not supported by the emulator (use projects/PROJECT).`);
      projects.add(m[1] as string);
    }
    const match = parseFilter(req.filter);
    const order = req.orderBy.trim().toLowerCase() || 'timestamp asc';
    if (order !== 'timestamp asc' && order !== 'timestamp desc') {
      throw new ApiError(Code.INVALID_ARGUMENT, `order_by: "${req.orderBy}" is not supported; use "timestamp asc" or "timestamp desc".`);
    }
    const all = [...this.byRevision.values()]
      .flat()
      .filter((e) => projects.has(e.resource.labels.project_id as string) && match(e))
      .sort((a, b) => tsMs(a.timestamp) - tsMs(b.timestamp) || a.insertId.localeCompare(b.insertId));
    if (order === 'timestamp desc') all.reverse();
    const start = req.pageToken ? Number(req.pageToken) : 0;
    if (!Number.isInteger(start) || start < 0) throw new ApiError(Code.INVALID_ARGUMENT, `page_token: invalid value "${req.pageToken}".`);
    const size = req.pageSize > 0 ? Math.min(req.pageSize, 1000) : 50;
    return { entries: structuredClone(all.slice(start, start + size)), nextPageToken: start + size < all.length ? String(start + size) : '' };
  }
}

function tsMs(t: Timestamp): number {
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

type Matcher = (e: LogEntry) => boolean;

/** The filter subset described above, as a predicate; INVALID_ARGUMENT for anything else. */
export function parseFilter(filter: string): Matcher {
  const text = filter.trim();
  if (!text) return () => true;
  const terms: Matcher[] = [];
  const re = /\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<|:)\s*("(?:[^"\\]|\\.)*"|[^\s"()]+)\s*/y;
  let pos = 0;
  for (;;) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new ApiError(Code.INVALID_ARGUMENT, `Unparseable filter: the emulator understands field OP "value" terms joined by AND, got ${JSON.stringify(text.slice(pos, pos + 40))}.`);
    const [, field, op, rawValue] = m as unknown as [string, string, string, string];
    const value = rawValue.startsWith('"') ? (JSON.parse(rawValue) as string) : rawValue;
    terms.push(term(field, op, value));
    pos = re.lastIndex;
    if (pos >= text.length) break;
    // Terms side by side are joined by AND, as in the Logging query language.
    const rest = text.slice(pos);
    if (/^(OR|NOT)\b|^[-()]/.test(rest)) throw new ApiError(Code.INVALID_ARGUMENT, 'Unparseable filter: OR, NOT and parentheses are not supported by the emulator.');
    const and = /^AND\s+/.exec(rest);
    if (and) pos += and[0].length;
  }
  return (e) => terms.every((t) => t(e));
}

function term(field: string, op: string, value: string): Matcher {
  if (field === 'timestamp' || field === 'receiveTimestamp') {
    const want = Date.parse(value);
    if (!Number.isFinite(want)) throw new ApiError(Code.INVALID_ARGUMENT, `Unparseable filter: ${field} needs an RFC 3339 time, got "${value}".`);
    return (e) => compare(tsMs(field === 'timestamp' ? e.timestamp : e.receiveTimestamp), want, op);
  }
  if (field === 'severity') {
    const want = SEVERITY_ORDER.indexOf(value.toUpperCase() as Severity);
    if (want < 0) throw new ApiError(Code.INVALID_ARGUMENT, `Unparseable filter: unknown severity "${value}".`);
    return (e) => compare(SEVERITY_ORDER.indexOf(e.severity), want, op);
  }
  const get = fieldGetter(field);
  return (e) => {
    const have = get(e);
    if (have === undefined) return op === '!=';
    if (op === ':') return have.toLowerCase().includes(value.toLowerCase());
    return compare(have, value, op);
  };
}

function fieldGetter(field: string): (e: LogEntry) => string | undefined {
  const direct: Record<string, (e: LogEntry) => string | undefined> = {
    'resource.type': (e) => e.resource.type,
    logName: (e) => e.logName,
    log_name: (e) => e.logName,
    textPayload: (e) => e.textPayload,
    insertId: (e) => e.insertId,
  };
  const f = direct[field];
  if (f) return f;
  const label = /^resource\.labels\.(\w+)$/.exec(field);
  if (label) return (e) => e.resource.labels[label[1] as string];
  const own = /^labels\.(\w+)$/.exec(field);
  if (own) return (e) => e.labels[own[1] as string];
  throw new ApiError(Code.INVALID_ARGUMENT, `Unparseable filter: the emulator does not know the field "${field}".`);
}

function compare<T extends string | number>(have: T, want: T, op: string): boolean {
  switch (op) {
    case '=':
      return have === want;
    case '!=':
      return have !== want;
    case '>':
      return have > want;
    case '>=':
      return have >= want;
    case '<':
      return have < want;
    case '<=':
      return have <= want;
    default:
      return false;
  }
}

/**
 * A logger for one revision's process that hands each output line to `onLine` (the process helpers
 * log every line at debug level as `revision output` / `container output`) and passes everything
 * else on to `parent`.
 */
export function capturingLogger(parent: Logger, onLine: (line: string, at: number) => void): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const raw of chunk.toString('utf8').split('\n')) {
        if (!raw) continue;
        try {
          const o = JSON.parse(raw) as { msg?: string; line?: unknown; time?: number; level?: number } & Record<string, unknown>;
          if ((o.msg === 'revision output' || o.msg === 'container output') && typeof o.line === 'string') {
            onLine(o.line, typeof o.time === 'number' ? o.time : Date.now());
            parent.debug({ line: o.line }, o.msg);
            continue;
          }
          const { msg, level, time: _t, ...rest } = o;
          const label = pino.levels.labels[level ?? 30] ?? 'info';
          const method = (parent as unknown as Record<string, (obj: object, m?: string) => void>)[label];
          if (typeof method === 'function') method.call(parent, rest, msg);
        } catch {
          // Not JSON: nothing of ours; drop it.
        }
      }
      done();
    },
  });
  return pino({ level: 'debug', base: undefined }, sink);
}

/** The console's Logs URL for a revision, as Cloud Run puts it in conditions and Revision.log_uri. */
export function revisionLogsUrl(revisionKey: string): string {
  const m = /^projects\/([^/]+)\/locations\/[^/]+\/services\/([^/]+)\/revisions\/([^/]+)$/.exec(revisionKey);
  if (!m) return '';
  const [, project, service, revision] = m as unknown as [string, string, string, string];
  const filter = `resource.type="cloud_run_revision"\nresource.labels.service_name="${service}"\nresource.labels.revision_name="${revision}"`;
  return (
    `https://console.cloud.google.com/logs/viewer?project=${project}` +
    `&resource=cloud_run_revision/service_name/${service}/revision_name/${revision}&advancedFilter=${encodeURIComponent(filter)}`
  );
}
