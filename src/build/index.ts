import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { BuildConfig } from '../config/schema.js';
import type { Builder } from './builder.js';
import { CloudBuildBuilder } from './cloudbuild.js';
import { CommandBuilder, type CommandBuilderOptions } from './command.js';
import { ContainerBuilder } from './container.js';

export type { Builder, BuildOutcome, BuildRunOptions, BuiltImage } from './builder.js';
export { BuildStore, buildsToKeep, pinBuild, type BuildKeep, type BuildPin, type PruneResult } from './store.js';
export { describeSnapshot } from './snapshot-text.js';

type BuilderFactory<K extends BuildConfig['kind']> = (
  cfg: Extract<BuildConfig, { kind: K }>,
  opts: CommandBuilderOptions,
) => Builder;

/** Every build kind the schema allows has a factory here; the compiler checks the set is complete. */
const builders: { [K in BuildConfig['kind']]: BuilderFactory<K> } = {
  command: (cfg, opts) => new CommandBuilder(cfg, opts),
  podman: (cfg, opts) => new ContainerBuilder(cfg, opts),
  docker: (cfg, opts) => new ContainerBuilder(cfg, opts),
  cloudbuild: (cfg, opts) => new CloudBuildBuilder(cfg, opts),
};

export function createBuilder(cfg: BuildConfig, opts: CommandBuilderOptions): Builder {
  const factory = builders[cfg.kind] as BuilderFactory<typeof cfg.kind>;
  return factory(cfg, opts);
}

/**
 * What the loop builds every builder with (at the start and after a reload): the config file and
 * the reports folder are never build input, and the reports folder scopes "unchanged since cycle N".
 */
export function builderOptions(loaded: Pick<LoadedConfig, 'config' | 'baseDir' | 'file'>): CommandBuilderOptions {
  return {
    service: loaded.config.service,
    baseDir: loaded.baseDir,
    configFile: loaded.file,
    reportsDir: resolve(loaded.baseDir, loaded.config.reports.dir),
  };
}
