/**
 * gRPC handlers: google.cloud.run.v2.Services, google.cloud.run.v2.Revisions and
 * google.longrunning.Operations, mapped onto EmulatorState. Every call first consults the fault
 * injector, so a client sees injected failures exactly where a real network would give them.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import type { Faults } from './faults.js';
import type { OperationStore } from './operations.js';
import type { RunProtos } from './protos.js';
import type { EmulatorState } from './store.js';
import type { Policy } from './iam.js';
import type { LogStore } from './logging.js';
import { ApiError, Code, type Duration, type Service } from './types.js';

/** WaitOperation never holds a call longer than this, whatever timeout the caller asks for. */
const MAX_WAIT_MS = 60_000;

type Handler = (request: Record<string, unknown>) => unknown;

export function addRunServices(server: grpc.Server, protos: RunProtos, deps: { state: EmulatorState; ops: OperationStore; faults: Faults; log: Logger; logs: LogStore }): void {
  const { state, ops, logs } = deps;
  const wrap = (impl: Record<string, Handler>): grpc.UntypedServiceImplementation => {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [method, fn] of Object.entries(impl)) out[method] = unary(method, fn, deps);
    return out;
  };
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
  const bool = (v: unknown): boolean => v === true;

  server.addService(
    protos.services,
    wrap({
      CreateService: (r) =>
        state.createService({ parent: str(r.parent), serviceId: str(r.serviceId), service: (r.service ?? {}) as Service, validateOnly: bool(r.validateOnly) }),
      GetService: (r) => deps.faults.maybeUnsettled(state.getService(str(r.name))),
      ListServices: (r) => {
        const page = state.listServices(str(r.parent), num(r.pageSize), str(r.pageToken));
        return { services: page.items, nextPageToken: page.nextPageToken };
      },
      UpdateService: (r) =>
        state.updateService({
          service: r.service as Service,
          updateMask: (r.updateMask ?? undefined) as { paths?: string[] } | undefined,
          validateOnly: bool(r.validateOnly),
          allowMissing: bool(r.allowMissing),
        }),
      DeleteService: (r) => state.deleteService({ name: str(r.name), etag: str(r.etag), validateOnly: bool(r.validateOnly) }),
      GetIamPolicy: (r) => state.getIamPolicy(str(r.resource)),
      SetIamPolicy: (r) => state.setIamPolicy(str(r.resource), r.policy as Policy | undefined),
      TestIamPermissions: (r) => ({ permissions: state.testIamPermissions(str(r.resource), (r.permissions as string[] | undefined) ?? []) }),
    }),
  );
  server.addService(
    protos.revisions,
    wrap({
      GetRevision: (r) => state.getRevision(str(r.name)),
      ListRevisions: (r) => {
        const page = state.listRevisions(str(r.parent), num(r.pageSize), str(r.pageToken));
        return { revisions: page.items, nextPageToken: page.nextPageToken };
      },
      DeleteRevision: (r) => state.deleteRevision({ name: str(r.name), etag: str(r.etag), validateOnly: bool(r.validateOnly) }),
    }),
  );
  server.addService(
    protos.logging,
    wrap({
      ListLogEntries: (r) =>
        logs.list({
          resourceNames: (r.resourceNames as string[] | undefined) ?? [],
          filter: str(r.filter),
          orderBy: str(r.orderBy),
          pageSize: num(r.pageSize),
          pageToken: str(r.pageToken),
        }),
    }),
  );
  server.addService(
    protos.operations,
    wrap({
      GetOperation: (r) => ops.get(str(r.name)),
      WaitOperation: (r) => ops.wait(str(r.name), Math.min(durationMs(r.timeout as Duration | undefined) ?? MAX_WAIT_MS, MAX_WAIT_MS)),
      ListOperations: (r) => {
        const name = str(r.name);
        const page = ops.list(name, num(r.pageSize), str(r.pageToken));
        return { operations: page.operations, nextPageToken: page.nextPageToken };
      },
      DeleteOperation: (r) => {
        ops.delete(str(r.name));
        return {};
      },
    }),
  );
}

function unary(method: string, fn: Handler, deps: { faults: Faults; log: Logger }): grpc.handleUnaryCall<Record<string, unknown>, unknown> {
  return (call, callback) => {
    const fault = deps.faults.takeCallFault(method);
    if (fault) {
      deps.log.debug({ method, code: fault.code }, 'injected call failure');
      callback({ code: fault.code, details: fault.message });
      return;
    }
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof ApiError) {
            deps.log.debug({ method, code: err.code, message: err.message }, 'call rejected');
            callback({ code: err.code, details: err.message });
            return;
          }
          deps.log.error({ method, err: String(err) }, 'emulator error');
          callback({ code: Code.INTERNAL, details: `emulator error in ${method}: ${String(err)}` });
        },
      );
  };
}

function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}
