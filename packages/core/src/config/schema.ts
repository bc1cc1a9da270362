import { z } from 'zod';
import { parseDuration } from '../duration.ts';
import { placeholderNames } from '../placeholders.ts';
import { checkServiceRefs } from './service-refs.ts';

export { deployTemplates, findCycle, type ServiceRefs, serviceDependencies } from './service-refs.ts';

/**
 * The greenloop.yaml schema. Commands are argv arrays (never shell strings) whose elements may hold
 * `{{placeholders}}` filled in by greenloop; the API can only name an environment, never a command.
 */

const ARGV_HINT = 'expected an array of strings (argv), e.g. ["npm", "test"]';
const argv = z.array(z.string({ error: ARGV_HINT }), { error: ARGV_HINT }).min(1, { error: 'expected at least the program name' });

const duration = z.union([z.string(), z.number()], { error: 'expected a duration like "30s", "5m", "2h" or milliseconds' }).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", "5m", "2h" or milliseconds, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

const envMap = z.record(z.string(), z.string(), { error: 'expected a map of NAME: value strings' });
const name = z.string().regex(/^[a-z][a-z0-9-]{0,48}$/, { error: 'expected a lowercase name: letters, digits and dashes, starting with a letter' });
/** Services this one must be deployed after (names within the environment); `{{url.<service>}}` in its deploy adds that service too. */
const after = z.array(z.string()).default([]);

const localDeploy = z.strictObject({
  provider: z.literal('local'),
  /** Started in the cycle's worktree with PORT set to a free port. Placeholders: {{commit}}, {{shortCommit}}, {{service}}, {{url.<service>}}. */
  command: argv,
  /** Working directory relative to the repository root. */
  cwd: z.string().default('.'),
  /** Values may hold the same placeholders as `command`, e.g. BACKEND_URL: "{{url.backend}}". */
  env: envMap.default({}),
  readyTimeout: duration.default(30_000),
  after,
});

const cloudRunTarget = z.strictObject({
  project: z.string().min(1),
  region: z.string().min(1),
  service: z.string().min(1),
});

const cloudRunDeploy = cloudRunTarget.extend({
  provider: z.literal('cloud-run'),
  /** Image to deploy, e.g. "europe-docker.pkg.dev/p/repo/backend:{{commit}}". */
  image: z.string().min(1),
  /** Optional argv that builds and pushes `image` for the loop's commit. */
  build: argv.optional(),
  buildTimeout: duration.default(1_200_000),
  readyTimeout: duration.default(600_000),
  /** Deploy with 0% traffic under a tag, test the tag URL, shift traffic only when green. */
  candidate: z.boolean().default(false),
  /**
   * Set on the new revision's container, over the variables the service already has. Values may hold
   * {{commit}}, {{shortCommit}}, {{service}} and {{url.<service>}}, e.g. BACKEND_URL: "{{url.backend}}"
   * (that service then deploys first).
   */
  env: envMap.default({}),
  after,
});

const commandDeploy = z.strictObject({
  provider: z.literal('command'),
  command: argv,
  timeout: duration.default(1_200_000),
  env: envMap.default({}),
  /** The URL tests should use; required unless cloudRun readiness provides it. */
  url: z.string().url().optional(),
  /** After the command, prove the deploy with the same Cloud Run readiness check. */
  cloudRun: cloudRunTarget.optional(),
  after,
});

export const DeploySchema = z.discriminatedUnion('provider', [localDeploy, cloudRunDeploy, commandDeploy], {
  error: 'expected deploy.provider to be one of "local", "cloud-run", "command"',
});

export const ServiceSchema = z.strictObject({
  name,
  /** Path polled until it answers 2xx after a deploy. */
  healthPath: z.string().startsWith('/').default('/healthz'),
  after,
  deploy: DeploySchema,
});

export const RERUN_PRESETS = ['node-test', 'pytest', 'jest', 'vitest', 'playwright', 'go', 'maven'] as const;
export type RerunPreset = (typeof RERUN_PRESETS)[number];
const rerunSpec = z.strictObject({
  /** The runner: how the failed tests are selected (pytest node ids, -t, --grep, -run, -Dtest, --test-name-pattern). */
  preset: z.enum(RERUN_PRESETS, { error: `expected tests.rerun.preset to be one of ${RERUN_PRESETS.join(', ')}` }),
  /** The rerun argv; the selection is appended, or placed where an element is {{failedTests}}. Default: tests.command. */
  command: argv.optional(),
  /** Reruns at most: a test passing on any of them is flaky; failing all of them (2 or more), broken. */
  times: z.number().int().min(1).max(5).default(2),
});

/** Shards need a command that takes the shard: native ({{shard}}/{{shardCount}}) or a file list ({{shardFiles}}, from `files`). */
function checkShards(
  t: { command: readonly string[]; junit: readonly string[]; shards: number | 'auto'; files?: readonly string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  const names = new Set(t.command.flatMap((a) => placeholderNames(a)));
  // Shards (and the failing-first run) share the cycle's checkout: a fixed JUnit path would be overwritten or read twice.
  if ((t.shards !== 1 || names.has('shardFiles')) && t.junit.some((g) => !placeholderNames(g).includes('artifacts')))
    ctx.addIssue({
      code: 'custom',
      path: ['junit'],
      message:
        'with tests.shards or {{shardFiles}} each run writes its own JUnit: put every tests.junit glob under {{artifacts}} (and point the command there)',
    });
  if (names.has('shardFiles') && !t.files?.length)
    ctx.addIssue({
      code: 'custom',
      path: ['files'],
      message: 'tests.command uses {{shardFiles}}: list the suite\'s files in tests.files (globs, e.g. ["tests/test_*.py"])',
    });
  if (t.shards !== 1 && !names.has('shard') && !names.has('shardFiles'))
    ctx.addIssue({
      code: 'custom',
      path: ['command'],
      message: `tests.shards is ${t.shards} but tests.command takes no shard: add "--shard={{shard}}/{{shardCount}}" (Playwright, Jest, Vitest) or "{{shardFiles}}" as an element (with tests.files)`,
    });
}

export const TestsSchema = z
  .strictObject({
    command: argv,
    /** Globs of JUnit XML files the command writes (placeholders allowed). */
    junit: z.array(z.string()).min(1).default(['{{artifacts}}/junit/**/*.xml']),
    timeout: duration.default(1_800_000),
    /** Values may hold {{url.<service>}} (the URL the suite must call) and the command's placeholders. */
    env: envMap.default({}),
    /**
     * Reruns of failed tests, to tell flaky from broken: `{ preset, times, command? }` (the preset builds the
     * filter from the JUnit names; `command` defaults to tests.command) or an argv ({{failedTestsPattern}}: a
     * regex of the names, {{failedTests}}: the names comma-separated; rerun once). {{artifacts}} is each rerun's own directory.
     */
    rerun: z.union([argv, rerunSpec]).optional(),
    /** Realness floor: a run whose tests together took less than this is flagged as not real. */
    minDuration: duration.default(0),
    /** Flag a run whose test count dropped by more than this fraction since the previous cycle. */
    maxCountDrop: z.number().min(0).max(1).default(0.2),
    /** Max bytes of stdout/stderr kept as evidence per stream. */
    outputLimit: z.number().int().positive().default(2_000_000),
    /** Put a recording proxy in front of each service: the suite gets its URL; every request is recorded to test/requests.jsonl. */
    proxy: z.boolean().default(true),
    /**
     * Parallel runs the suite is split across, each its own job (any worker, any machine): a number, or "auto"
     * (the shard slots of the workers listening). The command takes {{shard}}/{{shardCount}} (runners with
     * native sharding) or {{shardFiles}} (the files greenloop balanced by their duration history).
     */
    shards: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
    /** Globs of the suite's test files (relative to the checkout), for {{shardFiles}} and failing-tests-first. */
    files: z.array(z.string().min(1)).optional(),
    /** Run the files whose tests failed (or flaked) in the previous cycle first, as their own run (needs {{shardFiles}}). */
    failedFirst: z.boolean().default(true),
  })
  .superRefine(checkShards);

const localLogs = z.strictObject({ provider: z.literal('local') });
const cloudLogging = z.strictObject({
  provider: z.literal('cloud-logging'),
  project: z.string().min(1),
  severity: z.enum(['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL']).default('WARNING'),
  pageSize: z.number().int().positive().max(1000).default(500),
  maxPages: z.number().int().positive().default(5),
  maxEntries: z.number().int().positive().default(2000),
});
export const LogsSchema = z.discriminatedUnion('provider', [localLogs, cloudLogging], {
  error: 'expected logs.provider to be "local" or "cloud-logging"',
});

export const TRIAGE_CLASSES = [
  'route-missing',
  'auth-rejected',
  'server-error',
  'websocket-close',
  'infrastructure',
  'timeout',
  'assertion',
  'unknown',
] as const;
export type TriageClass = (typeof TRIAGE_CLASSES)[number];

const USD_HINT = 'expected a positive number of US dollars, e.g. 5';
const TOKENS_HINT = 'expected a positive whole number of tokens (input + output), e.g. 2000000';
/** A spend cap: US dollars, tokens (input + output), or both; reaching either is reaching the cap. */
const BudgetCapSchema = z
  .strictObject({
    usd: z.number({ error: USD_HINT }).positive({ error: USD_HINT }).optional(),
    tokens: z.number({ error: TOKENS_HINT }).int({ error: TOKENS_HINT }).positive({ error: TOKENS_HINT }).optional(),
  })
  .refine((c) => c.usd !== undefined || c.tokens !== undefined, { error: 'expected usd, tokens or both, e.g. { usd: 5 }' });

export const FixerBudgetSchema = z.strictObject({
  /** Spend per failure cluster over the whole loop: a cluster that reached it is not dispatched again. */
  perCluster: BudgetCapSchema.optional(),
  /** Spend of all fixers of the loop: no fixer starts when the next run could pass it; the loop stops with rule `budget`. */
  perLoop: BudgetCapSchema.optional(),
});

export const FixerSchema = z.strictObject({
  /** The fixer argv: an AI coding-agent CLI or any script. Placeholders: {{promptFile}}, {{promptDir}}, {{clusterFile}}, {{worktree}}, {{cluster}}, {{title}}, {{attempt}}, {{usageFile}}. */
  command: argv,
  timeout: duration.default(1_800_000),
  /** Run in the fix worktree after the fixer; non-zero rejects the fix. */
  verify: argv.optional(),
  verifyTimeout: duration.default(600_000),
  /** Globs the fixer may not touch. */
  protectedPaths: z.array(z.string()).default(['test/**', 'tests/**', 'e2e/**', '**/*.test.*', '**/*.spec.*', '.github/**', '.ci/**', 'greenloop.yaml']),
  /** Parallel fixers per cycle. */
  concurrency: z.number().int().positive().max(16).default(2),
  /** Attempts per cluster within one cycle (a rejected fix is retried with the gate's reason). */
  attemptsPerCycle: z.number().int().positive().max(5).default(1),
  /** Attempts per cluster over the whole loop before it is marked "needs a person". */
  attemptsPerLoop: z.number().int().positive().default(3),
  /** Names of greenloop's environment variables passed through to the fixer (nothing else is). */
  passEnv: z.array(z.string()).default([]),
  /** The fixer's (and verify command's) network in the sandbox: host, or none (loopback only, so no model API). */
  network: z.enum(['host', 'none']).default('host'),
  env: envMap.default({}),
  /** Triage classes that go to a person instead of the fixer; by default connection-level failures (an environment problem). */
  skipTriage: z.array(z.enum(TRIAGE_CLASSES)).default(['infrastructure']),
  /**
   * A run where most tests fail the same way (one way holds ≥ 80% of the executed tests, at least 5: the same
   * 500 everywhere) is an environment problem by default (a missing env var, a dependency down, a bad deploy
   * config): the loop stops with rule `environment` and no fixer runs. `fix` sends it to the fixer instead,
   * for a bug in code every test goes through. A run that cannot reach the service stops either way.
   */
  massFailure: z.enum(['environment', 'fix']).default('environment'),
  /** Caps on what fixers may spend (read from the usage the agent reports; see docs/fixers.md). */
  budget: FixerBudgetSchema.optional(),
  /** US dollars per million tokens of the fixer's model, for agents that report tokens but no price (Codex). */
  pricePerMillionTokens: z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }).optional(),
  /**
   * Prove each accepted fix on a deployed candidate before it is integrated: the fix's commit is deployed
   * beside the cycle's (local: its own process; cloud-run: a 0%-traffic revision under its own tag; command:
   * not proven) and only its cluster's tests run against it. A fix whose tests still fail the same way is
   * rejected with that evidence and retried within attemptsPerCycle (set it to 2 or more for this to pay).
   */
  proveOnDeploy: z.boolean().default(false),
});

export const LoopLimitsSchema = z.strictObject({
  maxCycles: z.number().int().positive().max(100).default(10),
  maxDuration: duration.default(4 * 3_600_000),
  /** Stop when the set of failing tests has not shrunk for this many cycles. */
  noProgressCycles: z.number().int().positive().default(3),
  /** Push the loop branch to this remote after integrating fixes. */
  push: z.strictObject({ remote: z.string().default('origin'), tokenEnv: z.string().optional() }).optional(),
});

export const CategorySchema = z.strictObject({
  name: z.string().min(1),
  /** Regular expressions matched against "suite › classname › name". */
  match: z.array(z.string()).min(1),
  priority: z.number().int().min(1).max(5).default(3),
});

/** Who Slack mentions: a user (`U…`/`W…`, sent as `<@U…>`) or a user group (`S…`, sent as `<!subteam^S…>`). */
const slackMention = z.string().regex(/^[UWS][A-Z0-9]{2,20}$/, {
  error: 'expected a Slack user id (U…/W…) or user-group id (S…), e.g. U024BE7LH; names like @alice are not resolved',
});

export const SlackNotificationsSchema = z
  .strictObject({
    /** Bot mode: the env var that holds a Slack app's bot token (xoxb-…). The token itself never goes in this file. */
    botTokenEnv: z.string().min(1).optional(),
    /** Bot mode: the channel id (C…) each loop's thread is posted to; the bot must be a member. */
    channel: z
      .string()
      .regex(/^[CGD][A-Z0-9]{2,23}$/, { error: 'expected a Slack channel id such as C0123ABCD (channel details → bottom of the About tab)' })
      .optional(),
    /** Mentioned only when a loop ends stopped or failed, or a failure cluster needs a person. */
    mention: z.array(slackMention).max(10).optional(),
    /** Incoming-webhook mode, the fallback when no bot token is configured or set: the env var holding the webhook URL. */
    webhookUrlEnv: z.string().min(1).optional(),
  })
  .superRefine((s, ctx) => {
    if (!s.botTokenEnv && !s.webhookUrlEnv) {
      ctx.addIssue({ code: 'custom', message: 'expected botTokenEnv (with channel) for a Slack app, or webhookUrlEnv for an incoming webhook' });
    }
    if (s.botTokenEnv && !s.channel)
      ctx.addIssue({ code: 'custom', path: ['channel'], message: 'botTokenEnv needs a channel id to post to, e.g. channel: C0123ABCD' });
    if (s.channel && !s.botTokenEnv)
      ctx.addIssue({
        code: 'custom',
        path: ['botTokenEnv'],
        message: 'channel is only used in bot mode: name the bot token env var too, e.g. botTokenEnv: SLACK_BOT_TOKEN',
      });
  });

export const NotificationsSchema = z.strictObject({
  slack: SlackNotificationsSchema.optional(),
  webhook: z.strictObject({ urlEnv: z.string().min(1), secretEnv: z.string().min(1) }).optional(),
});

/**
 * A pull request (GitHub) or merge request (GitLab) from the loop branch to `base` when a loop ends with
 * commits on its branch, its body the loop's evidence. Draft unless green.
 */
export const PullRequestSchema = z
  .strictObject({
    provider: z.enum(['github', 'gitlab'], { error: 'expected pullRequest.provider: github or gitlab' }).default('github'),
    /** GitHub: "owner/name"; GitLab: the project's path, "group/subgroup/project". */
    repository: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/, { error: 'expected "owner/name", e.g. "acme/shop"' }),
    /** The branch the pull request targets; unset: the repository's default branch. */
    base: z.string().min(1).optional(),
    /** Name of the environment variable holding the token (GitHub fine-grained: Pull requests read/write, Contents read/write when greenloop pushes; classic: repo. GitLab: api scope). */
    tokenEnv: z.string().min(1),
    /** GitHub: the REST API base URL (default https://api.github.com; Enterprise Server: https://<host>/api/v3). GitLab: the instance URL (default https://gitlab.com). */
    apiUrl: z.string().url({ error: 'expected a URL, e.g. https://github.example.com/api/v3' }).optional(),
    /** Base of the report links in the body; unset: GREENLOOP_URL when it is set, else the reports are named without links. */
    publicUrl: z.string().url({ error: 'expected a URL, e.g. https://greenloop.example.com' }).optional(),
  })
  .refine((p) => p.provider !== 'github' || p.repository.split('/').length === 2, {
    error: 'expected "owner/name" for GitHub, e.g. "acme/shop"',
    path: ['repository'],
  });

export const ScheduleSchema = z.strictObject({
  name,
  cron: z.string().min(1),
  timezone: z.string().default('UTC'),
});

export const EnvironmentSchema = z.strictObject({
  services: z.array(ServiceSchema).min(1, { error: 'expected at least one service' }),
  tests: TestsSchema,
  logs: LogsSchema.default({ provider: 'local' }),
  fixer: FixerSchema.optional(),
  loop: LoopLimitsSchema.default(LoopLimitsSchema.parse({})),
  categories: z.array(CategorySchema).default([]),
  notifications: NotificationsSchema.default({}),
  /** Open or update a pull request with the loop's evidence when it ends with commits on its branch. */
  pullRequest: PullRequestSchema.optional(),
  schedules: z.array(ScheduleSchema).default([]),
  /** Sandbox (bubblewrap) for fixers, verify, tests and local services. auto: used when it works, and fixers refuse to run without it; on: required; off: everything runs with greenloop's access. */
  sandbox: z.enum(['auto', 'on', 'off']).default('auto'),
});

/** An environment with its cross-field checks (`after`, `{{url.<service>}}`). */
const checkedEnvironment = EnvironmentSchema.superRefine(checkServiceRefs);

export const ConfigSchema = z.strictObject({
  version: z.literal(1, { error: 'expected version: 1' }),
  environments: z.record(name, checkedEnvironment).refine((e) => Object.keys(e).length > 0, { error: 'expected at least one environment' }),
});

export type GreenloopConfig = z.output<typeof ConfigSchema>;
export type EnvironmentConfig = z.output<typeof EnvironmentSchema>;
export type ServiceConfig = z.output<typeof ServiceSchema>;
export type DeployConfig = z.output<typeof DeploySchema>;
export type LocalDeployConfig = Extract<DeployConfig, { provider: 'local' }>;
export type CloudRunDeployConfig = Extract<DeployConfig, { provider: 'cloud-run' }>;
export type CommandDeployConfig = Extract<DeployConfig, { provider: 'command' }>;
export type TestsConfig = z.output<typeof TestsSchema>;
export type LogsConfig = z.output<typeof LogsSchema>;
export type CloudLoggingConfig = Extract<LogsConfig, { provider: 'cloud-logging' }>;
export type FixerConfig = z.output<typeof FixerSchema>;
export type FixerBudget = z.output<typeof FixerBudgetSchema>;
export type LoopLimits = z.output<typeof LoopLimitsSchema>;
export type CategoryConfig = z.output<typeof CategorySchema>;
export type PullRequestConfig = z.output<typeof PullRequestSchema>;
