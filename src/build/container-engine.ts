/**
 * How to call a container engine CLI (podman or docker) on this machine: the program and the global
 * flags, plus the environment it needs. Shared by the image builders and the local target's
 * container runtime, so both see the same images.
 */
import { join } from 'node:path';
import type { EngineKind } from '../config/container-schema.js';

export type { EngineKind };

export interface Engine {
  kind: EngineKind;
  /** Program and global flags, to be followed by a subcommand: `[...engine.argv, 'build', …]`. */
  argv: string[];
  /** Extra environment for every engine command. */
  env: Record<string, string>;
}

/**
 * `scripts/container-engine.sh start` sets DEPLOY_LOOP_ENGINE_DIR. podman then uses the storage and
 * containers.conf under it (where the script put the base image): given as --root/--runroot flags,
 * because storage given through CONTAINERS_STORAGE_CONF makes `podman run --rm` stall for 20 s.
 * Without it, podman and docker run with their own defaults.
 */
export function resolveEngine(kind: EngineKind, env: NodeJS.ProcessEnv = process.env): Engine {
  const dir = env.DEPLOY_LOOP_ENGINE_DIR;
  if (kind === 'docker' || !dir) return { kind, argv: [kind], env: {} };
  return {
    kind,
    argv: ['podman', '--root', join(dir, 'storage'), '--runroot', join(dir, 'runroot')],
    env: { CONTAINERS_CONF: env.CONTAINERS_CONF ?? join(dir, 'containers.conf') },
  };
}

/** The registry host of an image reference or registry setting: `127.0.0.1:5000/a/b@sha256:…` → `127.0.0.1:5000`. */
export function registryHost(ref: string): string {
  return ref.split('/')[0] ?? ref;
}

/** localhost, 127.0.0.0/8 and ::1, with or without a port: Docker treats these as insecure by default. */
export function isLocalRegistry(ref: string): boolean {
  const host = registryHost(ref).replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * podman checks TLS on every push and pull; Docker skips it for local registries by itself, and its
 * `push`/`run` have no such flag. So only podman gets `--tls-verify=false`: when asked, or by default
 * for a local registry.
 */
export function tlsFlags(engine: Engine, ref: string, tlsVerify: boolean | undefined): string[] {
  if (engine.kind !== 'podman') return [];
  const verify = tlsVerify ?? !isLocalRegistry(ref);
  return verify ? [] : ['--tls-verify=false'];
}
