import { configSecretNames, EnvSchema, type FixerConfig, type LoopRecord } from '@greenloop/core';

/**
 * The complete environment of a fixer (and its verify command): an allow-list, never greenloop's own
 * environment. PATH and HOME are always passed; `passEnv` names are copied from greenloop's environment,
 * except greenloop's own settings and secrets, which stay behind even when greenloop.yaml (a file in the
 * target repository, so editable by whoever can push there) asks for them.
 */

export interface FixerFiles {
  promptFile: string;
  clusterFile: string;
  worktree: string;
}

export interface FixerEnv {
  env: Record<string, string>;
  /** passEnv names that were refused because they are greenloop's own (for a warning in the log). */
  refused: string[];
  /** passEnv names that greenloop's environment does not have. */
  missing: string[];
}

const ALWAYS = ['PATH', 'HOME'];
const OWN = /^(GREENLOOP_|REDIS_)/;
/** Every variable greenloop reads (its env schema), and the cloud credentials its adapters use. */
const GREENLOOP_READS = new Set([...Object.keys(EnvSchema.shape), 'GOOGLE_APPLICATION_CREDENTIALS']);

/**
/** Names a loop's fixers never get: every `…Env` greenloop.yaml names (core's `configSecretNames`) and the project's credentials variable. */
export function loopSecretNames(config: { environments: Record<string, unknown> }, loop: Pick<LoopRecord, 'source'>): string[] {
  const names = configSecretNames(config);
  const credentials = loop.source?.credentialsSecret;
  return credentials && !names.includes(credentials) ? [...names, credentials].sort() : names;
}

/**
 * Builds the fixer's environment. Refused whatever passEnv says: GREENLOOP_*, REDIS_*, every variable
 * greenloop reads, and `secretEnv` (core's `configSecretNames` of the whole greenloop.yaml).
 */
export function buildFixerEnv(opts: {
  fixer: Pick<FixerConfig, 'env' | 'passEnv'>;
  processEnv: Readonly<Record<string, string | undefined>>;
  files: FixerFiles;
  secretEnv?: readonly string[];
}): FixerEnv {
  const env: Record<string, string> = {};
  const refused: string[] = [];
  const missing: string[] = [];
  const secret = new Set(opts.secretEnv ?? []);
  for (const name of ALWAYS) {
    const v = opts.processEnv[name];
    if (v !== undefined) env[name] = v;
  }
  for (const name of opts.fixer.passEnv) {
    if (OWN.test(name) || GREENLOOP_READS.has(name) || secret.has(name)) {
      refused.push(name);
      continue;
    }
    const v = opts.processEnv[name];
    if (v === undefined) missing.push(name);
    else env[name] = v;
  }
  Object.assign(env, opts.fixer.env);
  env.GREENLOOP_PROMPT_FILE = opts.files.promptFile;
  env.GREENLOOP_CLUSTER_FILE = opts.files.clusterFile;
  env.GREENLOOP_WORKTREE = opts.files.worktree;
  return { env, refused, missing };
}
