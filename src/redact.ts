/**
 * Secrets never reach a report, a log or a JUnit file. Records are redacted once, before they are
 * written, by replacing every known secret value wherever it appears.
 */
import type { Config } from './config/schema.js';

export const REDACTED = '[redacted]';

const SECRET_NAME = /secret|token|passw(or)?d|api[-_]?key|credential|private[-_]?key|auth/i;
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Every secret value the config holds: env values named secret, and credential headers of checks. */
export function collectSecrets(config: Config, extra: Iterable<string> = []): string[] {
  const out = new Set<string>(extra);
  const target = config.target as { env?: Record<string, string>; secretEnv?: string[] };
  for (const [k, v] of Object.entries(target.env ?? {})) {
    if (isSecretName(k) || target.secretEnv?.includes(k)) out.add(v);
  }
  const buildEnv = (config.build as { env?: Record<string, string> }).env ?? {};
  for (const [k, v] of Object.entries(buildEnv)) if (isSecretName(k)) out.add(v);
  for (const [k, v] of Object.entries(config.loop.fix?.env ?? {})) if (isSecretName(k)) out.add(v);
  for (const check of config.smoke.checks) {
    for (const [k, v] of Object.entries(check.headers)) {
      if (SECRET_HEADER.test(k) || isSecretName(k)) {
        out.add(v);
        // A bearer header's token alone may be echoed back without its scheme.
        const token = /^\S+\s+(\S{6,})$/.exec(v)?.[1];
        if (token) out.add(token);
      }
    }
  }
  // Short values would redact ordinary words; a secret that short is not much of one anyway.
  return [...out].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

export function redactString(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`);
}

/** A deep copy with every string redacted. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactString(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
