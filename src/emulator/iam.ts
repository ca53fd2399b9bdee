/**
 * The IAM side of a Cloud Run service: its policy (GetIamPolicy / SetIamPolicy /
 * TestIamPermissions of the Services API) and the invoker check its URLs apply. A new service is
 * private, as on Cloud Run: a request needs `Authorization: Bearer …` unless allUsers holds
 * roles/run.invoker or the service has invokerIamDisabled. The emulator cannot verify Google's
 * signature, so any bearer token passes (a divergence, listed in docs/cloud-run-fidelity.md).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, Code } from './types.js';

export interface Binding {
  role: string;
  members: string[];
  condition?: unknown;
}

export interface Policy {
  version?: number;
  bindings?: Binding[];
  etag?: Buffer | Uint8Array | string;
}

export const INVOKER_ROLE = 'roles/run.invoker';

/** Permissions of run.services a caller may ask about; the emulator's caller holds them all. */
const SERVICE_PERMISSIONS = new Set([
  'run.services.get', 'run.services.list', 'run.services.create', 'run.services.update', 'run.services.delete',
  'run.services.getIamPolicy', 'run.services.setIamPolicy', 'run.routes.invoke', 'run.operations.get',
]);

const MEMBER = /^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|principal|principalSet|deleted:[a-z]+):.+)$/;

export class IamPolicies {
  private readonly policies = new Map<string, { version: number; bindings: Binding[]; etag: Buffer }>();

  get(resource: string): Policy {
    const p = this.policies.get(resource) ?? { version: 1, bindings: [], etag: newEtag() };
    this.policies.set(resource, p);
    return structuredClone({ version: p.version, bindings: p.bindings, etag: p.etag });
  }

  /** Replaces the policy; an etag that is not the current one means someone changed it since it was read. */
  set(resource: string, policy: Policy): Policy {
    const current = this.get(resource);
    const sent = policy.etag && Buffer.from(policy.etag as Uint8Array).length > 0 ? Buffer.from(policy.etag as Uint8Array) : undefined;
    if (sent && current.etag && !sent.equals(Buffer.from(current.etag as Uint8Array))) {
      throw new ApiError(Code.ABORTED, 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
    }
    const bindings: Binding[] = [];
    for (const [i, b] of (policy.bindings ?? []).entries()) {
      if (!b.role || !/^roles\/[A-Za-z0-9_.]+$/.test(b.role)) {
        throw new ApiError(Code.INVALID_ARGUMENT, `policy.bindings[${i}].role: Role (${b.role || 'empty'}) does not exist in the resource's hierarchy.`);
      }
      for (const m of b.members ?? []) {
        if (!MEMBER.test(m)) throw new ApiError(Code.INVALID_ARGUMENT, `Invalid member ${m}: a member is allUsers, allAuthenticatedUsers, or TYPE:ID (user:, serviceAccount:, group:, domain:).`);
      }
      bindings.push({ role: b.role, members: [...new Set(b.members ?? [])], ...(b.condition ? { condition: b.condition } : {}) });
    }
    const next = { version: policy.version ?? 1, bindings, etag: newEtag() };
    this.policies.set(resource, next);
    return structuredClone(next);
  }

  testPermissions(permissions: readonly string[]): string[] {
    return permissions.filter((p) => SERVICE_PERMISSIONS.has(p));
  }

  delete(resource: string): void {
    this.policies.delete(resource);
  }

  /** Whether allUsers may invoke the resource by its policy. */
  publicByPolicy(resource: string): boolean {
    return (this.policies.get(resource)?.bindings ?? []).some((b) => b.role === INVOKER_ROLE && !b.condition && b.members.includes('allUsers'));
  }
}

/**
 * Cloud Run's answer to a call its invoker check refuses: 403 without credentials (the text of
 * Google's front end), 401 with an Authorization header that is not a bearer token.
 */
export function invokerRefusal(headers: IncomingHttpHeaders, isPublic: boolean): { status: number; body: string } | undefined {
  if (isPublic) return undefined;
  const auth = headers.authorization;
  if (auth === undefined) {
    return { status: 403, body: 'Error: Forbidden\nYour client does not have permission to get URL from this server.\n' };
  }
  if (!/^Bearer\s+\S+/i.test(auth)) {
    return { status: 401, body: 'Error: Unauthorized\nYour client does not have permission to the requested URL.\n' };
  }
  return undefined;
}

function newEtag(): Buffer {
  return randomBytes(8);
}
