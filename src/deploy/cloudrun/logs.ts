/**
 * A revision's container output from Cloud Logging, as `gcloud run revisions logs read` gets it:
 * entries of resource.type "cloud_run_revision" for the service, revision and location, since the
 * deploy started, oldest first. On Cloud Run this is the only place a crash's traceback or the
 * "Default STARTUP TCP probe failed" line can be read; the condition carries only a Logs URL.
 */
import { createRequire } from 'node:module';
import type { Logging } from '@google-cloud/logging';
import type { CloudRunTargetConfig } from '../../config/cloudrun-schema.js';

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

/** The Cloud Logging filter for one revision's entries in a time window. */
export function revisionLogFilter(cfg: Pick<CloudRunTargetConfig, 'region'>, q: Omit<RevisionLogQuery, 'limit'>): string {
  const parts = [
    'resource.type="cloud_run_revision"',
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
