/**
 * What a revision is made of besides its code: the target's settings (env, command, resources…).
 * "The same revision" means the same build digest and the same deploy inputs, so a check that flips
 * after an env change is a fix or a regression of that change, not flakiness.
 *
 * Values are never stored: each field is an HMAC under a key kept in the reports folder, so two
 * cycles can be compared without a report holding even a hash of a secret that could be guessed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { DeployInputs } from '../model/record.js';
import { canonicalJson } from './integrity.js';

const KEY_FILE = '.inputs-key';

/** The reports folder's HMAC key, made on first use (0600). */
export async function inputsKey(reportsDir: string): Promise<Buffer> {
  const file = join(reportsDir, KEY_FILE);
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  await mkdir(reportsDir, { recursive: true });
  try {
    // Exclusive create: two runs racing for the first key agree on the one that landed.
    await writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return inputsKey(reportsDir);
    throw err;
  }
  return key;
}

export function fingerprintDeployInputs(target: Config['target'], key: Buffer): DeployInputs {
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('hex').slice(0, 16);
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(target)) {
    if (value === undefined) continue;
    if (name === 'env' && value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) fields[`target.env.${k}`] = mac(canonicalJson(v));
    } else fields[`target.${name}`] = mac(canonicalJson(value));
  }
  return { sha256: mac(canonicalJson(fields)), fields };
}
