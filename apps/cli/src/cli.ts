import { parseArgs } from 'node:util';
import { readCliEnv } from './cli-env.ts';
import { ApiClient, ApiRequestError, ApiUnreachableError } from './client.ts';
import { schedulesCommand, tokensCommand } from './commands/admin.ts';
import { initCommand } from './commands/init.ts';
import { cancelCommand, reportCommand, startCommand, statusCommand, watchCommand } from './commands/loops.ts';
import { projectsCommand } from './commands/projects.ts';
import { upCommand } from './commands/up.ts';
import { EXIT, type Io, UsageError } from './io.ts';
import { painter } from './render.ts';

export const HELP = `greenloop — deploy → test → analyze → fix loops until an environment's test suite is green

Usage: greenloop <command> [options]

Loops (an environment of greenloop.yaml, or a project's as <project>/<environment>)
  start <environment> [--wait]         start a loop; --wait follows it live and exits with its result
        [--idempotency-key <key>]      the same key returns the same loop instead of starting another
  watch <loop>                         follow a running loop live; exits like start --wait
  status [loop]                        recent loops, or one loop with its cycles
        [--env <e>] [--state <s>] [--limit <n>]
  report <loop> [cycle]                a cycle report (default: the latest); --raw for plain markdown
  cancel <loop>                        stop a loop; running stages abort

Schedules (cron + IANA time zone; declared ones live in greenloop.yaml)
  schedules [list] [--env <e>]
  schedules add <environment> <name> "<cron>" [--tz <zone>]
  schedules rm <environment>.<name>

Projects (repositories served besides GREENLOOP_REPO; changes need an admin token)
  projects [list]
  projects add <name> --remote <url>   https://, ssh://, user@host:path, file:// or an absolute path; never
        [--base-branch <b>]            credentials in the URL: --credentials-secret names the workers'
        [--credentials-secret <VAR>]   environment variable that holds them (default branch: main)
  projects show <name>
  projects set <name> [--remote <url>] [--base-branch <b>] [--credentials-secret <VAR> | --no-credentials-secret]
  projects remove <name>               refused while one of its loops is queued or running

Tokens (admin)
  tokens [list]
  tokens create <name> --role viewer|operator|admin [--expires-days <n>]
  tokens revoke <id>

Setting up a project (in its repository's root)
  init [--env <name>] [--force]        detect the stack and write a commented greenloop.yaml
  doctor [environment]                 deploy once, check the health path, run the suite once, read the
                                       logs back, and say what is wired and what is not (with the fix)

Running greenloop
  up                                   API + worker + Redis (embedded if none is running) in one process
  demo                                 the whole product on a demo service with seeded bugs
  gc [--dry-run]                       prune loops finished more than GREENLOOP_RETENTION_DAYS (30) ago:
                                       Redis records, artifacts, greenloop-fix/* and unpushed loop branches

Options
  --json         machine-readable output
  --url <url>    API base URL (default: $GREENLOOP_URL or http://127.0.0.1:7700)
  -h, --help     this help;  -v, --version

Environment
  GREENLOOP_URL     API base URL
  GREENLOOP_API_TOKEN  bearer token (create one with \`greenloop tokens create\`); never passed on the command line
                    (GREENLOOP_TOKEN still works, deprecated)
  NO_COLOR          plain output
  up/demo also read the server settings: REDIS_URL, GREENLOOP_HOME, GREENLOOP_REPO, GREENLOOP_API_TOKEN, HOST, PORT, ...

Exit codes (stable, for CI)
  0  success; for start --wait: the loop ended green
  1  error or bad usage: API unreachable, request rejected, environment busy, the loop failed with an error
  2  start --wait: the loop stopped without getting green (max cycles, no progress, deploy failed, ...)
  3  start --wait: the loop was cancelled
  130 interrupted (Ctrl-C); a loop being waited for keeps running
`;

const VERSION = '0.1.0';

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  json: { type: 'boolean' },
  url: { type: 'string' },
  wait: { type: 'boolean', short: 'w' },
  'idempotency-key': { type: 'string' },
  env: { type: 'string', short: 'e' },
  state: { type: 'string' },
  limit: { type: 'string' },
  raw: { type: 'boolean' },
  tz: { type: 'string' },
  role: { type: 'string' },
  'expires-days': { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  remote: { type: 'string' },
  'base-branch': { type: 'string' },
  'credentials-secret': { type: 'string' },
  'no-credentials-secret': { type: 'boolean' },
} as const;

export interface RunOptions {
  argv: string[];
  processEnv: Readonly<Record<string, string | undefined>>;
  out(line: string): void;
  err(line: string): void;
  isTTY: boolean;
  signal: AbortSignal;
  /** Where `init` and `doctor` look for the project (default: process.cwd()). */
  cwd?: string;
}

/** Runs one CLI invocation and resolves with its exit code; never calls process.exit. */
export async function runCli(opts: RunOptions): Promise<number> {
  const [command, ...rest] = opts.argv;
  if (command === 'demo') {
    // The demo has its own flags and output; hand it everything after the command.
    const { runDemo } = await import('./demo.ts');
    return await runDemo(rest, opts.processEnv);
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: opts.argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    opts.err(`greenloop: ${err instanceof Error ? err.message : String(err)}\nRun \`greenloop --help\` for usage.`);
    return EXIT.error;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    opts.out(VERSION);
    return EXIT.ok;
  }
  const [cmd, ...args] = positionals;
  if (values.help || !cmd || cmd === 'help') {
    opts.out(HELP);
    return cmd || values.help ? EXIT.ok : EXIT.error;
  }
  let io: Io;
  try {
    const env = readCliEnv(values.url ? { ...opts.processEnv, GREENLOOP_URL: values.url } : opts.processEnv, opts.isTTY);
    io = {
      out: opts.out,
      err: opts.err,
      env,
      processEnv: opts.processEnv,
      api: new ApiClient(env.url, env.token),
      paint: painter(env.color),
      isTTY: opts.isTTY,
      signal: opts.signal,
    };
    for (const w of env.warnings) opts.err(`greenloop: warning: ${w}`);
  } catch (err) {
    opts.err(`greenloop: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.error;
  }
  const json = values.json === true;
  try {
    switch (cmd) {
      case 'start':
        return await startCommand(io, args, {
          wait: values.wait === true,
          json,
          ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
        });
      case 'watch':
        return await watchCommand(io, args, { json });
      case 'status':
        return await statusCommand(io, args, { json, ...pick(values, ['env', 'state', 'limit']) });
      case 'report':
        return await reportCommand(io, args, { json, raw: values.raw === true });
      case 'cancel':
        return await cancelCommand(io, args);
      case 'schedules':
        return await schedulesCommand(io, args, { json, ...pick(values, ['env', 'tz']) });
      case 'tokens':
        return await tokensCommand(io, args, {
          json,
          ...(values.role ? { role: values.role } : {}),
          ...(values['expires-days'] ? { expiresDays: values['expires-days'] } : {}),
        });
      case 'projects':
        return await projectsCommand(io, args, {
          json,
          ...(values.remote ? { remote: values.remote } : {}),
          ...(values['base-branch'] ? { baseBranch: values['base-branch'] } : {}),
          ...(values['credentials-secret'] ? { credentialsSecret: values['credentials-secret'] } : {}),
          ...(values['no-credentials-secret'] ? { noCredentialsSecret: true } : {}),
        });
      case 'up':
        return await upCommand(io);
      case 'init':
        return await initCommand(io, args, { cwd: opts.cwd ?? process.cwd(), force: values.force === true, ...(values.env ? { env: values.env } : {}) });
      case 'gc':
        return await (await import('./commands/gc.ts')).gcCommand(io, args, { json, dryRun: values['dry-run'] === true });
      case 'doctor':
        return await (await import('./commands/doctor.ts')).doctorCommand(io, args, { cwd: opts.cwd ?? process.cwd(), json, processEnv: opts.processEnv });
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (err) {
    return reportError(io, err);
  }
}

function pick<K extends string>(values: Partial<Record<string, unknown>>, keys: K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) if (typeof values[k] === 'string') out[k] = values[k] as string;
  return out;
}

function reportError(io: Io, err: unknown): number {
  const p = io.paint;
  if (err instanceof UsageError) {
    io.err(`greenloop: ${err.message}\nRun \`greenloop --help\` for usage.`);
  } else if (err instanceof ApiRequestError) {
    io.err(`${p.red('error:')} ${err.message} ${p.dim(`(${err.status} ${err.code})`)}`);
    if (err.status === 401)
      io.err(p.dim(io.env.token ? `  ${io.env.tokenVar} was rejected: expired or revoked?` : '  set GREENLOOP_API_TOKEN to an API token'));
    const issues = (err.body.details as { issues?: unknown } | undefined)?.issues;
    if (Array.isArray(issues) && err.code === 'CONFIG_INVALID') for (const i of issues) io.err(`  - ${String(i)}`);
  } else if (err instanceof ApiUnreachableError) {
    io.err(`${p.red('error:')} ${err.message}`);
  } else {
    io.err(`${p.red('error:')} ${err instanceof Error ? err.message : String(err)}`);
  }
  return EXIT.error;
}
