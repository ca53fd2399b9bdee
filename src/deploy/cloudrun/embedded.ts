/**
 * `target.endpoint.emulator`: the loop starts a Cloud Run API emulator of its own on first use and
 * stops it (with every revision process it runs) in close(), so rehearsing a config needs one
 * terminal. Everything else is the ordinary CloudRunTarget talking gRPC to that emulator.
 */
import path from 'node:path';
import type { BuiltImage } from '../../build/builder.js';
import type { CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import type { TargetConfig } from '../../config/schema.js';
import type { StageContext } from '../../context.js';
import type { Emulator } from '../../emulator/index.js';
import type { TimedLine } from '../../model/log-line.js';
import type { DeployOutcome, LockHolder, Target, TrafficEntry } from '../target.js';
import { CloudRunTarget, type CloudRunTargetOptions, type DeployInfo } from './target.js';

export interface EmbeddedEmulatorOptions extends CloudRunTargetOptions {
  /** Folder `endpoint.emulator.config` is relative to (the loop config's folder). */
  baseDir: string;
}

export class EmbeddedEmulatorTarget implements Target {
  readonly kind = 'cloudrun';
  private started: Promise<{ emu: Emulator; inner: CloudRunTarget }> | undefined;
  private inner: CloudRunTarget | undefined;
  private emu: Emulator | undefined;
  constructor(
    private cfg: CloudRunTargetConfig,
    private readonly opts: EmbeddedEmulatorOptions,
  ) {}

  /** The running emulator (fault injection in tests); undefined before first use and after close(). */
  emulator(): Emulator | undefined {
    return this.emu;
  }

  reconfigure(cfg: TargetConfig): void {
    if (cfg.kind !== 'cloudrun') throw new Error('the Cloud Run target cannot become another kind within a run');
    this.cfg = cfg;
    this.inner?.reconfigure(cfg);
  }

  async deployCandidate(ctx: StageContext, image: BuiltImage, tag: string): Promise<DeployOutcome> {
    return (await this.target()).deployCandidate(ctx, image, tag);
  }

  async setTraffic(ctx: StageContext, split: TrafficEntry[]): Promise<void> {
    return (await this.target()).setTraffic(ctx, split);
  }

  async currentTraffic(ctx: StageContext): Promise<TrafficEntry[]> {
    return (await this.target()).currentTraffic(ctx);
  }

  async followLatest(ctx: StageContext, revision: string): Promise<boolean> {
    return (await this.target()).followLatest(ctx, revision);
  }

  serviceUrl(): string | undefined {
    return this.inner?.serviceUrl();
  }

  async logs(revision: string, lines: number): Promise<string[]> {
    return (await this.target()).logs(revision, lines);
  }

  async timedLogs(revision: string): Promise<TimedLine[]> {
    return (await this.target()).timedLogs(revision);
  }

  deployInfo(revision: string): DeployInfo | undefined {
    return this.inner?.deployInfo(revision);
  }

  async smokeHeaders(url: string): Promise<Record<string, string>> {
    return (await this.target()).smokeHeaders(url);
  }

  async acquireLock(ctx: StageContext, holder: LockHolder, ttlMs: number): Promise<{ release(): Promise<void> }> {
    return (await this.target()).acquireLock(ctx, holder, ttlMs);
  }

  async close(): Promise<void> {
    const started = this.started;
    this.started = undefined;
    if (!started) return;
    const { emu, inner } = await started.catch(() => ({ emu: undefined, inner: undefined }));
    this.inner = undefined;
    this.emu = undefined;
    await inner?.close();
    await emu?.close();
  }

  private target(): Promise<CloudRunTarget> {
    this.started ??= this.start();
    return this.started.then((s) => s.inner);
  }

  private async start(): Promise<{ emu: Emulator; inner: CloudRunTarget }> {
    const endpoint = this.cfg.endpoint;
    if (!endpoint?.emulator) throw new Error('EmbeddedEmulatorTarget needs target.endpoint.emulator');
    // Loaded on demand: a real Cloud Run config never pulls in the emulator's proto loading.
    const { startEmulator } = await import('../../emulator/index.js');
    const configFile = path.resolve(this.opts.baseDir, endpoint.emulator.config);
    const emu = await startEmulator({ port: endpoint.port ?? 0, configFile, log: this.opts.log });
    this.opts.log.info({ endpoint: emu.endpoint, config: configFile }, 'embedded Cloud Run API emulator started');
    const cfg: CloudRunTargetConfig = { ...this.cfg, endpoint: { ...endpoint, host: emu.host, port: emu.port } };
    try {
      this.inner = new CloudRunTarget(cfg, this.opts);
      this.emu = emu;
    } catch (err) {
      await emu.close();
      throw err;
    }
    return { emu, inner: this.inner };
  }
}
