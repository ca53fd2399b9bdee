/** Long-running operations: created by mutations, polled with GetOperation or WaitOperation. */
import { randomUUID } from 'node:crypto';
import { ApiError, Code, type AnyMessage, type Operation } from './types.js';

interface OperationRecord {
  op: Operation;
  waiters: Set<() => void>;
}

/** Finished operations kept for GetOperation; the oldest go first. */
const MAX_KEPT = 1000;

export class OperationStore {
  private readonly ops = new Map<string, OperationRecord>();

  /** `location` is `projects/P/locations/L`. */
  create(location: string, metadata: AnyMessage): Operation {
    const op: Operation = { name: `${location}/operations/${randomUUID()}`, done: false, metadata };
    this.ops.set(op.name, { op, waiters: new Set() });
    this.prune();
    return structuredClone(op);
  }

  setMetadata(name: string, metadata: AnyMessage): void {
    const rec = this.ops.get(name);
    if (rec && !rec.op.done) rec.op.metadata = metadata;
  }

  complete(name: string, response: AnyMessage): void {
    this.finish(name, (op) => {
      op.response = response;
      op.metadata = { ...response };
    });
  }

  fail(name: string, code: number, message: string, metadata?: AnyMessage): void {
    this.finish(name, (op) => {
      op.error = { code, message };
      if (metadata) op.metadata = metadata;
    });
  }

  get(name: string): Operation {
    return structuredClone(this.record(name).op);
  }

  /** Resolves when the operation is done or `timeoutMs` has passed, with its state at that time. */
  async wait(name: string, timeoutMs: number): Promise<Operation> {
    const rec = this.record(name);
    if (!rec.op.done && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          rec.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        rec.waiters.add(wake);
      });
    }
    return this.get(name);
  }

  list(location: string, pageSize: number, pageToken: string): { operations: Operation[]; nextPageToken: string } {
    const all = [...this.ops.values()].map((r) => r.op).filter((op) => op.name.startsWith(`${location}/operations/`));
    const start = pageToken ? Number(pageToken) : 0;
    if (!Number.isInteger(start) || start < 0) throw new ApiError(Code.INVALID_ARGUMENT, `invalid page_token "${pageToken}"`);
    const size = pageSize > 0 ? pageSize : 100;
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? String(start + size) : '';
    return { operations: structuredClone(page), nextPageToken: next };
  }

  delete(name: string): void {
    this.record(name);
    this.ops.delete(name);
  }

  /** Wakes every WaitOperation caller (shutdown). */
  wakeAll(): void {
    for (const rec of this.ops.values()) for (const wake of [...rec.waiters]) wake();
  }

  private finish(name: string, apply: (op: Operation) => void): void {
    const rec = this.ops.get(name);
    if (!rec || rec.op.done) return;
    apply(rec.op);
    rec.op.done = true;
    for (const wake of [...rec.waiters]) wake();
  }

  private record(name: string): OperationRecord {
    const rec = this.ops.get(name);
    if (!rec) throw new ApiError(Code.NOT_FOUND, `Operation '${name}' was not found.`);
    return rec;
  }

  private prune(): void {
    if (this.ops.size <= MAX_KEPT) return;
    for (const [name, rec] of this.ops) {
      if (this.ops.size <= MAX_KEPT) break;
      if (rec.op.done) this.ops.delete(name);
    }
  }
}
