/**
 * A local Cloud Run Admin API v2 (gRPC) for rehearsing deploys with the real @google-cloud/run
 * client and no Google access: services, revisions (really running as local processes behind a
 * traffic-splitting proxy), long-running operations, and fault injection.
 *
 * Client options that talk to it without any credential lookup:
 * `{ apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure(), authClient: new PassThroughClient() }`.
 */
import type http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { silentLogger, type Logger } from '../log.js';
import { startAdminServer } from './admin.js';
import { emulatorConfigSchema, loadEmulatorConfig, type EmulatorConfig, type EmulatorConfigInput } from './config.js';
import { Faults } from './faults.js';
import { addRunServices } from './grpc.js';
import { LogStore } from './logging.js';
import { OperationStore } from './operations.js';
import { loadRunProtos } from './protos.js';
import { RevisionRuntime } from './runtime.js';
import { EmulatorState } from './store.js';

export { Faults } from './faults.js';
export type { CallFaultOptions, RevisionFaultOptions, FaultState } from './faults.js';
export { loadEmulatorConfig, parseEmulatorConfig, emulatorConfigSchema } from './config.js';
export type { EmulatorConfig, EmulatorConfigInput } from './config.js';

export interface StartEmulatorOptions {
  /** gRPC port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The emulator config, already loaded or as plain input (defaults filled in here). */
  config?: EmulatorConfig | EmulatorConfigInput;
  /** Read the config from this YAML file instead (relative image `cwd`s resolve against its folder). */
  configFile?: string;
  /** Folder relative image `cwd`s resolve against when `config` is given directly; default: the current folder. */
  baseDir?: string;
  log?: Logger;
}

export interface Emulator {
  /** The gRPC port. */
  readonly port: number;
  readonly host: string;
  /** `127.0.0.1:PORT`, for display. Clients take `apiEndpoint: host` and `port` separately. */
  readonly endpoint: string;
  /** The fault-injection HTTP endpoint, unless disabled with `adminPort: false`. */
  readonly adminUrl: string | undefined;
  /** In-process fault injection (the admin endpoint drives the same object). */
  readonly faults: Faults;
  /** Changes the base delay of operations created from now on. */
  setOperationDelay(ms: number): void;
  /** Stops the API, every revision process and every proxy. Safe to call more than once. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<Emulator> {
  const log = (opts.log ?? silentLogger()).child({ component: 'emulator' });
  let config: EmulatorConfig;
  let baseDir = opts.baseDir ?? process.cwd();
  if (opts.configFile) {
    const loaded = await loadEmulatorConfig(opts.configFile);
    config = loaded.config;
    baseDir = opts.baseDir ?? loaded.baseDir;
  } else {
    config = emulatorConfigSchema.parse(opts.config ?? {});
  }
  if (config.readiness?.path !== undefined) {
    log.warn(
      { path: config.readiness.path },
      'emulator config readiness.path is ignored: as on Cloud Run, revisions get a TCP startup probe on the container port unless their template sets startupProbe (use "startup" for the budget and interval)',
    );
  }
  let operationDelayMs = config.operationDelayMs;
  const faults = new Faults();
  const ops = new OperationStore();
  const logs = new LogStore();
  const runtime = new RevisionRuntime({ config, baseDir, faults, log, host: HOST, logs });
  const state = new EmulatorState({ runtime, ops, log, operationDelayMs: () => operationDelayMs + faults.takeOperationDelay() });
  runtime.admission = (serviceKey, headers) => state.admission(serviceKey, headers);
  runtime.requestTimeouts = (serviceKey, port) => state.requestTimeouts(serviceKey, port);
  runtime.revisionTimeout = (serviceKey, revision) => state.revisionTimeout(serviceKey, revision);

  const server = new grpc.Server();
  addRunServices(server, loadRunProtos(), { state, ops, faults, log, logs });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${HOST}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  let admin: http.Server | undefined;
  try {
    if (config.adminPort !== false) admin = await startAdminServer({ host: HOST, port: config.adminPort, faults, state, log });
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  const adminAddr = admin?.address();
  const adminUrl = adminAddr && typeof adminAddr === 'object' ? `http://${HOST}:${adminAddr.port}` : undefined;
  log.info({ port, adminUrl }, 'Cloud Run API emulator listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    host: HOST,
    endpoint: `${HOST}:${port}`,
    adminUrl,
    faults,
    setOperationDelay(ms: number) {
      operationDelayMs = Math.max(0, ms);
    },
    close() {
      closing ??= (async () => {
        ops.wakeAll();
        await new Promise<void>((resolve) => {
          // Calls in flight get a moment to finish; then the rest are cut.
          const timer = setTimeout(() => server.forceShutdown(), 1000);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await runtime.close();
        await state.settle();
        await runtime.close();
        if (admin) {
          const a = admin;
          const closed = new Promise<void>((resolve) => a.close(() => resolve()));
          a.closeAllConnections();
          await closed;
        }
      })();
      return closing;
    },
  };
}
