import type { TargetConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { EmbeddedEmulatorTarget } from './cloudrun/embedded.js';
import { CloudRunTarget } from './cloudrun/target.js';
import { LocalTarget } from './local/target.js';
import type { Target } from './target.js';

export type { Target, TrafficEntry, Revision, DeployOutcome } from './target.js';

export interface TargetOptions {
  service: string;
  log: Logger;
  baseDir: string;
  /** Local target: the number the next revision name takes (`svc-00007-abc`), from the history. */
  nextRevisionNumber?: number;
}

type TargetFactory<K extends TargetConfig['kind']> = (cfg: Extract<TargetConfig, { kind: K }>, opts: TargetOptions) => Target;

/** Every target kind the schema allows has a factory here; the compiler checks the set is complete. */
const targets: { [K in TargetConfig['kind']]: TargetFactory<K> } = {
  local: (cfg, opts) => new LocalTarget(cfg, opts),
  cloudrun: (cfg, opts) =>
    cfg.endpoint?.emulator
      ? new EmbeddedEmulatorTarget(cfg, { service: opts.service, log: opts.log, baseDir: opts.baseDir })
      : new CloudRunTarget(cfg, { service: opts.service, log: opts.log }),
};

export function createTarget(cfg: TargetConfig, opts: TargetOptions): Target {
  const factory = targets[cfg.kind] as TargetFactory<typeof cfg.kind>;
  return factory(cfg, opts);
}
