/**
 * The one copy of Cloud Run's name rules: service names, revision names, traffic tags, and the
 * limit on a tag and its service name together (they form the tag URL's DNS label). The config
 * schema, the local target's split rules, the emulator and `init` all use these; sources are in
 * docs/cloud-run-fidelity.md.
 */
import { z } from 'zod';

/** CreateServiceRequest.service_id: begins with a letter, no trailing dash, fewer than 50 characters. */
export const SERVICE_NAME_MAX = 49;
export const SERVICE_NAME_PATTERN = /^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/;
export const SERVICE_NAME_RULE = `lowercase letters, digits and dashes, starting with a letter, not ending with a dash, at most ${SERVICE_NAME_MAX} characters`;

/** A revision name is a DNS label: at most 63 characters, and it starts with `SERVICE-`. */
export const REVISION_NAME_MAX = 63;
export const REVISION_NAME_PATTERN = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A traffic tag: a letter first, a letter or digit last. */
export const TAG_PATTERN = /^[a-z]([a-z0-9-]{0,44}[a-z0-9])?$/;
export const TAG_RULE = 'lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit';

/** "Combined traffic tag and service name cannot exceed 46 characters." */
export const TAG_AND_SERVICE_MAX = 46;

export const serviceNameSchema = z
  .string({ error: 'expected the service name as a string' })
  // The length first, with the number: a 1,000-character name is too long, not "not lowercase".
  .max(SERVICE_NAME_MAX, { error: (iss) => `a service name is at most ${SERVICE_NAME_MAX} characters (Cloud Run rules); this one has ${String((iss.input as string).length)}`, abort: true })
  .regex(SERVICE_NAME_PATTERN, `a Cloud Run service name is ${SERVICE_NAME_RULE}`);

export const tagSchema = z.string({ error: 'expected a tag as a string' }).regex(TAG_PATTERN, `a tag is ${TAG_RULE}`);

export function isTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

/** Why `tag` cannot go with `service` on Cloud Run, with the numbers; undefined when it fits. */
export function tagLengthProblem(service: string, tag: string): string | undefined {
  const total = service.length + tag.length;
  if (total <= TAG_AND_SERVICE_MAX) return undefined;
  return (
    `traffic tag "${tag}" (${tag.length} characters) and service name "${service}" (${service.length}) together are ${total} characters; ` +
    `Cloud Run allows at most ${TAG_AND_SERVICE_MAX} (combined traffic tag and service name cannot exceed ${TAG_AND_SERVICE_MAX} characters)`
  );
}

/**
 * A tag that fits `service`: `preferred` when it does, otherwise it cut short (its end kept a
 * letter or digit); undefined when no tag of at least 3 characters fits.
 */
export function fitTag(service: string, preferred = 'candidate'): string | undefined {
  const room = TAG_AND_SERVICE_MAX - service.length;
  const cut = preferred.slice(0, Math.max(0, room)).replace(/-+$/, '');
  if (cut.length >= Math.min(3, preferred.length) && isTag(cut)) return cut;
  return undefined;
}

/**
 * `SERVICE-` + `parts` joined by dashes, within 63 characters: the last part (a hash) is cut to fit
 * but keeps at least `minLast` characters; earlier parts are dropped from the front when needed.
 */
export function revisionNameFrom(service: string, parts: readonly string[], minLast = 4): string {
  const kept = [...parts];
  const last = kept.pop() ?? '';
  for (;;) {
    const prefix = [service, ...kept].join('-') + '-';
    const room = REVISION_NAME_MAX - prefix.length;
    if (room >= minLast || kept.length === 0) return prefix + last.slice(0, Math.max(0, room));
    kept.shift();
  }
}
