/**
 * Fault injection: the failures a Cloud Run client must survive, on demand. Reachable in-process
 * (`emulator.faults`) and over the admin HTTP endpoint (see admin.ts).
 */
import { Code, type Service } from './types.js';

export interface CallFaultOptions {
  /** gRPC status code; UNAVAILABLE (14) by default. */
  code?: number;
  /** RPC names it applies to (`GetService`, `UpdateService`, `GetOperation`, …); all when omitted. */
  methods?: string[];
  message?: string;
}

export interface RevisionFaultOptions {
  /** Only revisions whose image contains this text. */
  image?: string;
  /** What the "container" printed before dying. */
  message?: string;
  exitCode?: number;
}

interface CallFault {
  remaining: number;
  code: number;
  methods?: string[];
  message: string;
}

interface RevisionFault {
  remaining: number;
  image?: string;
  message: string;
  exitCode: number;
}

export interface FaultState {
  calls: Array<{ remaining: number; code: number; methods?: string[] }>;
  revisions: Array<{ remaining: number; image?: string }>;
  slowOperations: { remaining: number | null; extraDelayMs: number } | null;
  unsettledTraffic: number;
}

export class Faults {
  private calls: CallFault[] = [];
  private revisions: RevisionFault[] = [];
  private slow: { remaining: number; extraDelayMs: number } | undefined;
  private unsettled = 0;

  /** The next `count` matching calls fail with `code` (UNAVAILABLE by default) before doing anything. */
  failNextCalls(count: number, opts: CallFaultOptions = {}): void {
    if (count <= 0) return;
    const fault: CallFault = {
      remaining: count,
      code: opts.code ?? Code.UNAVAILABLE,
      message: opts.message ?? 'The service is currently unavailable (fault injected by the emulator).',
    };
    if (opts.methods && opts.methods.length > 0) fault.methods = [...opts.methods];
    this.calls.push(fault);
  }

  /** The next `count` revisions (optionally only those of a matching image) crash instead of starting. */
  failNextRevisions(count: number, opts: RevisionFaultOptions = {}): void {
    if (count <= 0) return;
    const fault: RevisionFault = {
      remaining: count,
      message: opts.message ?? 'Error: listen EACCES (fault injected by the emulator)',
      exitCode: opts.exitCode ?? 1,
    };
    if (opts.image) fault.image = opts.image;
    this.revisions.push(fault);
  }

  /** Adds `extraDelayMs` to the next `count` operations (every one when count is omitted). */
  slowOperations(extraDelayMs: number, count?: number): void {
    this.slow = extraDelayMs > 0 ? { extraDelayMs, remaining: count ?? Number.POSITIVE_INFINITY } : undefined;
  }

  /**
   * The next `count` GetService answers show the service mid-reconcile, as service.proto says it may
   * ("traffic_statuses … will have transient values"): reconciling, and the statuses of the serving
   * revisions missing, so the split read does not sum to 100.
   */
  unsettledTraffic(count: number): void {
    this.unsettled = Math.max(0, count);
  }

  /** @internal The service as one unsettled read shows it, when that fault applies. */
  maybeUnsettled(svc: Service): Service {
    if (this.unsettled <= 0) return svc;
    this.unsettled--;
    return { ...svc, reconciling: true, trafficStatuses: (svc.trafficStatuses ?? []).filter((t) => !t.percent) };
  }

  clear(): void {
    this.unsettled = 0;
    this.calls = [];
    this.revisions = [];
    this.slow = undefined;
  }

  state(): FaultState {
    return {
      calls: this.calls.map((c) => ({ remaining: c.remaining, code: c.code, ...(c.methods ? { methods: c.methods } : {}) })),
      revisions: this.revisions.map((r) => ({ remaining: r.remaining, ...(r.image ? { image: r.image } : {}) })),
      slowOperations: this.slow
        ? { extraDelayMs: this.slow.extraDelayMs, remaining: Number.isFinite(this.slow.remaining) ? this.slow.remaining : null }
        : null,
      unsettledTraffic: this.unsettled,
    };
  }

  /** @internal Consumes one call fault for this RPC, if any applies. */
  takeCallFault(method: string): { code: number; message: string } | undefined {
    const fault = this.calls.find((c) => !c.methods || c.methods.includes(method));
    if (!fault) return undefined;
    if (--fault.remaining <= 0) this.calls.splice(this.calls.indexOf(fault), 1);
    return { code: fault.code, message: fault.message };
  }

  /** @internal Consumes one revision fault for this image, if any applies. */
  takeRevisionFault(image: string): { message: string; exitCode: number } | undefined {
    const fault = this.revisions.find((r) => !r.image || image.includes(r.image));
    if (!fault) return undefined;
    if (--fault.remaining <= 0) this.revisions.splice(this.revisions.indexOf(fault), 1);
    return { message: fault.message, exitCode: fault.exitCode };
  }

  /** @internal Extra delay for one operation. */
  takeOperationDelay(): number {
    if (!this.slow) return 0;
    const extra = this.slow.extraDelayMs;
    if (--this.slow.remaining <= 0) this.slow = undefined;
    return extra;
  }
}
