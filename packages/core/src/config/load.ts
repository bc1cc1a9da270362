import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { ConfigSchema, type EnvironmentConfig, type GreenloopConfig } from './schema.ts';

export const CONFIG_FILE = 'greenloop.yaml';

function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(root)';
}

/** Turns zod issues into "environments.staging.tests.command: expected an array of strings" lines. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`);
}

/** Validates an already-parsed object (YAML or JSON). */
export function parseConfig(raw: unknown, source = CONFIG_FILE): GreenloopConfig {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(
      `${source} is invalid`,
      formatIssues(result.error),
      'fix the fields listed; the JSON Schema in packages/core/greenloop.schema.json helps editors',
    );
  return result.data;
}

/** Reads and validates greenloop.yaml; YAML syntax errors name the line and column. */
export async function loadConfig(file: string): Promise<GreenloopConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      [],
      'set GREENLOOP_REPO to a git repository that has a greenloop.yaml at its root',
    );
  }
  return parseConfigText(text, file);
}

/**
 * Parses and validates greenloop.yaml text; `source` names where it came from in errors (a path, or
 * "greenloop.yaml at commit abc1234"). YAML syntax errors name the line and column.
 */
export function parseConfigText(text: string, source: string): GreenloopConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      `${source} is not valid YAML`,
      doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  return parseConfig(doc.toJS(), source);
}

/** The named environment, or a ConfigError listing the ones that exist. */
export function getEnvironment(config: GreenloopConfig, name: string): EnvironmentConfig {
  const env = config.environments[name];
  if (!env) throw new ConfigError(`unknown environment "${name}"; configured: ${Object.keys(config.environments).join(', ')}`);
  return env;
}
