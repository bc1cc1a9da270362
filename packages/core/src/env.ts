import { resolve } from 'node:path';
import { z } from 'zod';
import { formatIssues } from './config/load.ts';
import { parseDuration } from './duration.ts';
import { CLAIM_LEASE_MS } from './environment-claim.ts';
import { ConfigError } from './errors.ts';

const ms = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = parseDuration(v);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    });

/**
 * Every environment variable greenloop reads, parsed once at start-up (`readEnv(process.env)`).
 * Nothing else in the code base reads process.env; composition roots pass the result down.
 */
export const EnvSchema = z.object({
  /** Redis to use. Unset: use 127.0.0.1:6379 if it answers, else start an embedded redis-server. */
  REDIS_URL: z.string().url().optional(),
  /** Prefix of every Redis key and BullMQ queue, so several installs (and tests) share one Redis. */
  GREENLOOP_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]+$/)
    .default('greenloop'),
  /** State directory: artifacts, worktrees, embedded Redis data. */
  GREENLOOP_HOME: z.string().default('.greenloop'),
  /** The git repository with greenloop.yaml at its root. */
  GREENLOOP_REPO: z.string().default('.'),
  /**
   * Disk a worker's project mirrors (`<GREENLOOP_HOME>/mirrors`) may take, in MB: after a fetch, the least
   * recently used mirrors no running loop needs are deleted until they fit.
   */
  GREENLOOP_MIRRORS_MAX_MB: z.coerce.number().positive().default(2048),
  /** Bootstrap admin token for the API (hashed at start; never logged). */
  GREENLOOP_API_TOKEN: z.string().min(16, { error: 'GREENLOOP_API_TOKEN must be at least 16 characters' }).optional(),
  /**
   * Key of the HMAC that token records hold, kept outside Redis so writing Redis cannot mint a token.
   * Unset: generated once into <GREENLOOP_HOME>/token-secret (0600), shared by the API and worker on one
   * machine; set it when API processes run on several machines.
   */
  GREENLOOP_TOKEN_SECRET: z.string().min(32, { error: 'GREENLOOP_TOKEN_SECRET must be at least 32 characters' }).optional(),
  /**
   * What the API and worker do when their Redis runs commands without a password (any local process,
   * sandboxed suites included, could then write it): "warn" (default: one loud log line at start-up) or
   * "require" (refuse to start; for shared hosts).
   */
  GREENLOOP_REDIS_AUTH: z.enum(['warn', 'require'], { error: 'GREENLOOP_REDIS_AUTH must be "warn" or "require"' }).default('warn'),
  /**
   * Which proxies' X-Forwarded-For the API believes (Fastify trustProxy): unset/"false" none (the
   * socket address is the client), "true" any, a number of hops, or a comma-separated list of
   * addresses/CIDRs. Failed-auth budgets are per client address, so behind a proxy set this.
   */
  GREENLOOP_TRUST_PROXY: z
    .string()
    .optional()
    .transform((v): boolean | number | string => {
      const t = (v ?? '').trim();
      if (t === '' || t === 'false') return false;
      if (t === 'true') return true;
      return /^[0-9]+$/.test(t) ? Number(t) : t;
    }),
  /** Longest an API request may take to arrive (headers and body); slower clients are cut off. */
  GREENLOOP_REQUEST_TIMEOUT: ms(30_000),
  /** Idle time after which the API closes a connection (event streams send heartbeats well within it). */
  GREENLOOP_CONNECTION_TIMEOUT: ms(120_000),
  /** Base URL of the API, used for links in notifications and by the CLI. */
  GREENLOOP_URL: z.string().url().default('http://127.0.0.1:7700'),
  /** Base URL of Slack's Web API for bot-mode notifications (GovSlack: https://slack-gov.com/api/; tests: a local fake). */
  GREENLOOP_SLACK_API_URL: z.string().url().optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(7700),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Parallel stage jobs per queue in one worker process. */
  GREENLOOP_CONCURRENCY: z.coerce.number().int().positive().default(4),
  /** BullMQ job lock; a crashed worker's job is picked up again after about this long. */
  GREENLOOP_LOCK_DURATION: ms(30_000),
  GREENLOOP_STALLED_INTERVAL: ms(30_000),
  /**
   * Lease of an environment's claim: live loops renew it (every third of it); a loop nobody runs any
   * more frees its environment after this. The API and every worker must use the same value.
   */
  GREENLOOP_CLAIM_LEASE: ms(CLAIM_LEASE_MS).refine((n) => n >= 3000, { error: 'GREENLOOP_CLAIM_LEASE must be at least 3s' }),
  /**
   * Whether workers share one disk (`shared`, the default: one machine, or a volume every worker mounts)
   * or each has its own (`separate`: workers on many machines). With `separate`, each loop runs every
   * stage on the worker that began it (its checkout, evidence and local services are on that disk alone);
   * when that worker dies, another adopts the loop and redeploys the cycle it lost. Every worker of an
   * installation must use the same value.
   */
  GREENLOOP_WORKER_DISKS: z.enum(['shared', 'separate'], { error: 'GREENLOOP_WORKER_DISKS must be "shared" or "separate"' }).default('shared'),
  /** How often a worker renews its registry entry; it is taken for dead three of these after its last one. */
  GREENLOOP_WORKER_HEARTBEAT: ms(15_000),
  /** Days a finished loop's records, artifacts and branches are kept (the worker prunes older ones every 6 h). */
  GREENLOOP_RETENTION_DAYS: z.coerce.number().positive().default(30),
  /**
   * Where evidence is published when a stage ends and where the API reads it: `local` (the default:
   * `<GREENLOOP_HOME>/artifacts`, API and worker on one disk) or `gcs` (a Cloud Storage bucket, for
   * workers on other machines than the API). Needs GREENLOOP_ARTIFACTS_BUCKET with `gcs`.
   */
  GREENLOOP_ARTIFACTS: z.enum(['local', 'gcs'], { error: 'GREENLOOP_ARTIFACTS must be "local" or "gcs"' }).default('local'),
  /** The bucket (name only, no gs://) when GREENLOOP_ARTIFACTS=gcs. */
  GREENLOOP_ARTIFACTS_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, { error: 'GREENLOOP_ARTIFACTS_BUCKET must be a bucket name like "acme-greenloop" (no gs://)' })
    .optional(),
  /** Object name prefix inside the bucket (default "greenloop/"), so one bucket can hold several installs. */
  GREENLOOP_ARTIFACTS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._/-]*$/, { error: 'GREENLOOP_ARTIFACTS_PREFIX may hold letters, digits, ".", "_", "-" and "/" only' })
    .refine((p) => !p.split('/').includes('..'), { error: 'GREENLOOP_ARTIFACTS_PREFIX must not contain ".."' })
    .default('greenloop/'),
  /**
   * Only for emulators and tests: the Cloud Storage JSON API's base URL (e.g. a fake-gcs-server). Unset,
   * greenloop talks to storage.googleapis.com with Application Default Credentials; set, the client sends
   * no credentials at all.
   */
  GREENLOOP_ARTIFACTS_ENDPOINT: z.string().url().optional(),
});

export type Env = z.output<typeof EnvSchema> & { home: string; repo: string };

export function readEnv(source: Record<string, string | undefined>): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) throw new ConfigError('environment variables are invalid', formatIssues(result.error));
  if (result.data.GREENLOOP_ARTIFACTS === 'gcs' && !result.data.GREENLOOP_ARTIFACTS_BUCKET)
    throw new ConfigError('environment variables are invalid', ['GREENLOOP_ARTIFACTS_BUCKET: GREENLOOP_ARTIFACTS=gcs needs the bucket name']);
  return { ...result.data, home: resolve(result.data.GREENLOOP_HOME), repo: resolve(result.data.GREENLOOP_REPO) };
}
