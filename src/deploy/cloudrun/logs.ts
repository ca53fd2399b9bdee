/**
 * A revision's container output from Cloud Logging, as `gcloud run revisions logs read` gets it:
 * entries of resource.type "cloud_run_revision" for the service, revision and location, since the
 * deploy started, oldest first. On Cloud Run this is the only place a crash's traceback or the
 * "Default STARTUP TCP probe failed" line can be read; the condition carries only a Logs URL.
 */
import { createRequire } from 'node:module';
import type { Logging } from '@google-cloud/logging';
import type { CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import type { TimedLine } from '../../model/log-line.js';
import { codeName, errorInfo } from './retry.js';

export interface RevisionLogQuery {
  service: string;
  revision: string;
  /** Only entries at or after this time. */
  since: Date;
  /** Only entries before this time (a check's window). */
  until?: Date;
  /** Newest lines kept. */
  limit: number;
}

/**
 * The Cloud Logging filter for one revision's entries in a time window: what the container and
 * Cloud Run's system log say, without the request log (one entry per request, no payload), so
 * evidence holds what the service wrote.
 */
export function revisionLogFilter(cfg: Pick<CloudRunTargetConfig, 'project' | 'region'>, q: Omit<RevisionLogQuery, 'limit'>): string {
  const parts = [
    'resource.type="cloud_run_revision"',
    `logName!="projects/${cfg.project}/logs/run.googleapis.com%2Frequests"`,
    `resource.labels.service_name="${q.service}"`,
    `resource.labels.revision_name="${q.revision}"`,
    `resource.labels.location="${cfg.region}"`,
    `timestamp>="${q.since.toISOString()}"`,
  ];
  if (q.until) parts.push(`timestamp<"${q.until.toISOString()}"`);
  return parts.join(' AND ');
}

/**
 * The @google-cloud/logging client: ADC against Google, or a plain-text channel with no credential
 * lookup against the emulator, which serves the Logging API on its Run API port.
 */
export async function createLogging(cfg: Pick<CloudRunTargetConfig, 'project' | 'endpoint'>): Promise<Logging> {
  // Loaded on first use: the client takes seconds to load, and most runs never read a log.
  const { Logging } = await import('@google-cloud/logging');
  const endpoint = cfg.endpoint;
  if (!endpoint) return new Logging({ projectId: cfg.project });
  if (!endpoint.port) throw new Error('target.endpoint has no port: the embedded emulator was not started');
  // The logging client carries its own google-gax and google-auth-library: the grpc credentials and
  // the no-op auth client must come from those copies (both are checked with instanceof).
  const require = createRequire(createRequire(import.meta.url).resolve('@google-cloud/logging'));
  const gax = require('google-gax') as { grpc: { credentials: { createInsecure(): unknown } } };
  const auth = require('google-auth-library') as { PassThroughClient: new () => unknown };
  const options: Record<string, unknown> = {
    projectId: cfg.project,
    apiEndpoint: endpoint.host,
    port: endpoint.port,
    sslCreds: gax.grpc.credentials.createInsecure(),
    authClient: new auth.PassThroughClient(),
  };
  return new Logging(options as ConstructorParameters<typeof Logging>[0]);
}

interface EntryLike {
  metadata: { timestamp?: unknown; severity?: unknown; textPayload?: string | null };
  data: unknown;
}

/** One entry as one line: `[SEVERITY] text`; a structured payload as its `message` or compact JSON. */
export function entryLine(e: EntryLike): string {
  const severity = typeof e.metadata.severity === 'string' && e.metadata.severity !== 'DEFAULT' ? `[${e.metadata.severity}] ` : '';
  const d = e.data;
  let text: string;
  if (typeof d === 'string') text = d;
  else if (d && typeof d === 'object' && typeof (d as { message?: unknown }).message === 'string') text = (d as { message: string }).message;
  else text = JSON.stringify(d ?? e.metadata.textPayload ?? '');
  return `${severity}${text}`;
}

/** The newest `limit` lines of the revision's entries in the window, oldest first. */
export async function readRevisionLogs(logging: Logging, cfg: Pick<CloudRunTargetConfig, 'project' | 'region'>, q: RevisionLogQuery): Promise<string[]> {
  const [entries] = await logging.getEntries({
    resourceNames: [`projects/${cfg.project}`],
    filter: revisionLogFilter(cfg, q),
    orderBy: 'timestamp desc',
    pageSize: q.limit,
    autoPaginate: false,
    gaxOptions: { retry: null, timeout: 15_000 } as object,
  });
  return entries.slice(0, q.limit).map((e) => entryLine(e as unknown as EntryLike)).reverse();
}

/** Entries asked for per ListLogEntries call, and calls per read: at most PAGE × PAGES lines. */
export const LOG_PAGE_SIZE = 500;
export const LOG_MAX_PAGES = 4;

export interface TimedLogRead {
  /** Oldest first, each at its entry's timestamp (epoch ms). */
  lines: TimedLine[];
  /** Older entries in the window were left unread (more than pageSize × maxPages). */
  truncated: boolean;
}

/**
 * The revision's entries in the window with their timestamps, for per-check windows: newest first
 * (as `gcloud run revisions logs read` orders them), a bounded number of pages, returned oldest
 * first. Errors (PERMISSION_DENIED without roles/logging.viewer, a network failure) are thrown.
 */
export async function readRevisionTimedLogs(
  logging: Logging,
  cfg: Pick<CloudRunTargetConfig, 'project' | 'region'>,
  q: Omit<RevisionLogQuery, 'limit'> & { pageSize?: number; maxPages?: number },
): Promise<TimedLogRead> {
  const pageSize = q.pageSize ?? LOG_PAGE_SIZE;
  const maxPages = q.maxPages ?? LOG_MAX_PAGES;
  const lines: TimedLine[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const [entries, next] = await logging.getEntries({
      resourceNames: [`projects/${cfg.project}`],
      filter: revisionLogFilter(cfg, q),
      orderBy: 'timestamp desc',
      pageSize,
      autoPaginate: false,
      ...(pageToken ? { pageToken } : {}),
      gaxOptions: { retry: null, timeout: 15_000 } as object,
    });
    for (const e of entries) {
      const entry = e as unknown as EntryLike;
      const ts = entry.metadata.timestamp;
      const at = ts instanceof Date ? ts.getTime() : typeof ts === 'string' ? Date.parse(ts) : NaN;
      if (Number.isFinite(at)) lines.push({ at, text: entryLine(entry) });
    }
    pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken || undefined;
    if (!pageToken) return { lines: lines.reverse(), truncated: false };
  }
  return { lines: lines.reverse(), truncated: true };
}

/**
 * Why Cloud Logging could not be read, as one line for the evidence and the log:
 * `Cloud Logging: PERMISSION_DENIED: … (roles/logging.viewer on project P gives access)`.
 */
export function logReadFailure(err: unknown, project: string): string {
  const { code, message } = errorInfo(err);
  const first = message.split('\n')[0] ?? '';
  const hint = code === 7 || code === 16 ? ` (reading a revision's logs needs roles/logging.viewer on project ${project})` : '';
  return `Cloud Logging: ${code === undefined ? 'error' : codeName(code)}: ${first}${hint}`;
}
