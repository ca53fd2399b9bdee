/**
 * The config is read again before every cycle after the first (the fix step may have edited it),
 * and every change is applied or refused, never ignored: a changed build makes a new builder, a
 * changed target is reconfigured for the next candidate (revisions still serving stay up until
 * traffic leaves them), and what cannot change within a run (the service, where it lives, the
 * reports folder, the run's own bounds) stops the run with a config error naming the field.
 */
import { createBuilder } from '../build/index.js';
import type { Builder } from '../build/builder.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Target } from '../deploy/target.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { canonicalJson } from './integrity.js';

/** Fields that name what the run works on; changing them means another run. */
const FIXED_TARGET_FIELDS: Record<Config['target']['kind'], readonly string[]> = {
  local: ['kind', 'host', 'port'],
  cloudrun: ['kind', 'project', 'region', 'service', 'endpoint'],
};

export interface Reloaded {
  loaded: LoadedConfig;
  builder: Builder;
  /** What changed and was applied, for the log: `build`, `target.env`, … */
  applied: string[];
}

export async function reloadConfig(
  previous: LoadedConfig,
  run: { builder: Builder; target: Target; log: Logger; afterCycle: number },
): Promise<Reloaded> {
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(previous.file);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.issues, `the config became invalid after cycle ${run.afterCycle} (did the fix step edit it?)`);
    throw err;
  }
  const refused = refusedChanges(previous.config, loaded.config);
  if (refused.length > 0) {
    throw new ConfigError(
      refused.map((field) => ({ file: loaded.file, field, message: `changed after cycle ${run.afterCycle}, but it cannot change within a run` })),
      'restart the run to apply it (deploy-loop run), or put the old value back',
    );
  }
  const applied: string[] = [];
  let builder = run.builder;
  if (changed(previous.config.build, loaded.config.build)) {
    builder = createBuilder(loaded.config.build, { service: loaded.config.service, baseDir: loaded.baseDir });
    applied.push('build');
  }
  const targetFields = changedFields(previous.config.target, loaded.config.target);
  if (targetFields.length > 0) {
    if (!run.target.reconfigure) {
      throw new ConfigError(
        targetFields.map((f) => ({ file: loaded.file, field: `target.${f}`, message: `changed after cycle ${run.afterCycle}, and the ${run.target.kind} target cannot apply it within a run` })),
        'restart the run to apply it',
      );
    }
    run.target.reconfigure(loaded.config.target);
    applied.push(...targetFields.map((f) => `target.${f}`));
  }
  if (applied.length > 0) run.log.info({ applied }, `config changed after cycle ${run.afterCycle}: applied to the next cycle`);
  return { loaded, builder, applied };
}

/** Dotted paths of what cannot apply within a run. */
export function refusedChanges(before: Config, after: Config): string[] {
  const refused: string[] = [];
  if (before.service !== after.service) refused.push('service');
  if (before.reports.dir !== after.reports.dir) refused.push('reports.dir');
  for (const key of ['maxCycles', 'maxMinutes', 'stallAfter'] as const) {
    if (before.loop[key] !== after.loop[key]) refused.push(`loop.${key}`);
  }
  if (before.target.kind !== after.target.kind) return [...refused, 'target.kind'];
  const fixed = FIXED_TARGET_FIELDS[before.target.kind];
  for (const f of changedFields(before.target, after.target)) if (fixed.includes(f)) refused.push(`target.${f}`);
  return refused;
}

function changed(a: unknown, b: unknown): boolean {
  return canonicalJson(a) !== canonicalJson(b);
}

/** Top-level keys of two objects whose values differ. */
export function changedFields(a: object, b: object): string[] {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort();
  return keys.filter((k) => changed(ra[k], rb[k]));
}
