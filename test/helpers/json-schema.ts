/**
 * Validates values against a published JSON Schema file with ajv (draft 2020-12), the way a user's
 * own tooling would read it. Errors come back as `/path: message` strings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { ROOT } from './cli.js';

export type Validate = (value: unknown) => string[];

/** The file is read and compiled on first use, so a test that (re)writes it can run first. */
export function schemaValidator(file: string): Validate {
  let compiled: ValidateFunction | undefined;
  return (value) => {
    compiled ??= new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>);
    const check = compiled;
    if (check(value)) return [];
    return (check.errors ?? []).map((e) => {
      const extra = 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : '';
      return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
    });
  };
}
