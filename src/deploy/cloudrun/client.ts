/**
 * The @google-cloud/run clients: Application Default Credentials against Google, or a plain-text
 * channel with no credential lookup at all against the local emulator (`target.endpoint`).
 */
import * as grpc from '@grpc/grpc-js';
import { v2 } from '@google-cloud/run';
import { GoogleAuth, PassThroughClient, type IdTokenClient } from 'google-auth-library';
import type { ClientOptions } from 'google-gax';
import type { CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import { StageError, errorMessage } from '../../errors.js';

export interface RunClients {
  services: v2.ServicesClient;
  revisions: v2.RevisionsClient;
}

export function runClientOptions(endpoint: CloudRunTargetConfig['endpoint']): ClientOptions {
  if (!endpoint) return {};
  // An `endpoint.emulator` without a port is started by EmbeddedEmulatorTarget, which fills the port in.
  if (endpoint.port === undefined || endpoint.port === 0) throw new Error('target.endpoint has no port: the embedded emulator was not started');
  return {
    apiEndpoint: endpoint.host,
    // gRPC mode dials `apiEndpoint:port`: the port goes separately, never in apiEndpoint.
    port: endpoint.port,
    // Same @grpc/grpc-js copy as google-gax uses: it checks credentials with instanceof.
    sslCreds: grpc.credentials.createInsecure(),
    // No metadata-server probe, no ADC lookup: the emulator needs no credentials.
    authClient: new PassThroughClient(),
  };
}

export function createRunClients(cfg: Pick<CloudRunTargetConfig, 'endpoint'>): RunClients {
  const opts = runClientOptions(cfg.endpoint);
  return { services: new v2.ServicesClient(opts), revisions: new v2.RevisionsClient(opts) };
}

let auth: GoogleAuth | undefined;
const idClients = new Map<string, Promise<IdTokenClient>>();

/**
 * `Authorization: Bearer <Google ID token>` for a private Cloud Run URL, from Application Default
 * Credentials. The token client is cached per audience and refreshes tokens itself. The returned
 * headers must never be logged or written to a report.
 */
export async function idTokenHeaders(audience: string): Promise<Record<string, string>> {
  auth ??= new GoogleAuth();
  let client = idClients.get(audience);
  if (!client) {
    client = (auth as GoogleAuth).getIdTokenClient(audience);
    idClients.set(audience, client);
  }
  try {
    const headers = await (await client).getRequestHeaders();
    return Object.fromEntries(headers.entries());
  } catch (err) {
    idClients.delete(audience);
    // The error text of google-auth-library never contains the token; keep only its first line.
    throw new StageError(
      'smoke',
      `getting a Google ID token for ${audience}: ${errorMessage(err).split('\n')[0]}`,
      'ID tokens need Application Default Credentials of a service account (or gcloud auth application-default login with a user that may impersonate one); set target.auth.idToken: false for a public service',
      { cause: err },
    );
  }
}
