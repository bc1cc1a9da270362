import { z } from 'zod';
import { formatIssues } from './config/load.ts';
import type { LoopSource, LoopState } from './domain.ts';
import { TERMINAL_STATES } from './domain.ts';
import { GreenloopError } from './errors.ts';
import { type LoopStore, pipelineValues } from './store.ts';
import { listWorkers } from './worker-registry.ts';

/**
 * Projects: the repositories one installation serves besides its own (GREENLOOP_REPO). A project names a
 * remote, a base branch and the *name* of the worker environment variable holding the remote's
 * credentials; its environments are addressed as `<project>/<environment>`, and a loop on one carries a
 * copy of the project (LoopRecord.source) taken when the loop is created.
 */

export const PROJECT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** An environment of greenloop.yaml (the config schema's rule for names). */
const ENVIRONMENT_PART = '[a-z][a-z0-9-]{0,48}';
/** An environment as the API, schedules and the CLI take it: `<environment>` or `<project>/<environment>`. */
export const LOOP_ENVIRONMENT_PATTERN = new RegExp(`^(?:${PROJECT_NAME_PATTERN.source.slice(1, -1)}/)?${ENVIRONMENT_PART}$`);

/**
 * Names greenloop keeps for itself: its own actors in the audit trail (as for tokens), and words that
 * would read as the installation's own repository rather than a project.
 */
const RESERVED_PROJECT_NAMES = new Set(['greenloop', 'system', 'bootstrap', 'default', 'local', 'self']);

/** Environment variables greenloop reads itself: a project's credentials must never be one of them. */
const OWN_VARIABLE = /^(GREENLOOP_|REDIS_)/;

/** What a worker advertises in the registry when it runs project loops (clones LoopRecord.source). */
export const PROJECTS_CAPABILITY = 'projects';

/** What is stored per project (`<prefix>:project:<name>`). */
export interface ProjectRecord {
  name: string;
  /** https://, ssh:// or user@host:path, or (tests, single machines) an absolute path / file:// URL of a bare repository. */
  remote: string;
  baseBranch: string;
  /** Name of the worker environment variable with the remote's credentials; never the value. */
  credentialsSecret?: string;
  createdAt: string;
  updatedAt: string;
  /** Token name that created it. */
  createdBy: string;
}

/** `<project>/<environment>` → its parts; a short name has no project. */
export function splitEnvironmentName(name: string): { project?: string; environment: string } {
  const slash = name.indexOf('/');
  return slash < 0 ? { environment: name } : { project: name.slice(0, slash), environment: name.slice(slash + 1) };
}

/** The copy of a project a loop carries (LoopRecord.source). */
export function projectSource(record: ProjectRecord): LoopSource {
  return {
    project: record.name,
    remote: record.remote,
    baseBranch: record.baseBranch,
    ...(record.credentialsSecret ? { credentialsSecret: record.credentialsSecret } : {}),
  };
}

/** Problems with a remote URL, as one sentence; undefined when it is one greenloop accepts. */
export function remoteProblem(remote: string): string | undefined {
  if (/\s/.test(remote) || [...remote].some((c) => c < ' ' || c === '\x7f')) return 'must not contain whitespace or control characters';
  if (remote.startsWith('/')) return remote.split('/').includes('..') ? 'an absolute path must not contain ".."' : undefined;
  const scp = /^([^@/:]+)(:[^@/]*)?@([^/:]+):(.+)$/.exec(remote);
  if (scp && !remote.includes('://')) {
    if (scp[2]) return credentialsInUrl();
    // A leading "-" would reach ssh as an option (ProxyCommand): only plain user and host names.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(scp[1] as string)) return 'the user of user@host:path must be letters, digits, ".", "_" or "-"';
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(scp[3] as string)) return 'the host of user@host:path must be a host name';
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    return 'must be an https:// or ssh:// URL, user@host:path, a file:// URL or an absolute path';
  }
  switch (url.protocol) {
    case 'https:':
      if (url.username || url.password) return credentialsInUrl();
      if (url.search || url.hash) return 'must not have a query string or fragment (credentials never go into the URL; use credentialsSecret)';
      return url.pathname.length > 1 ? undefined : 'needs a repository path after the host';
    case 'ssh:':
      if (url.password) return credentialsInUrl();
      if (url.username && !/^[A-Za-z0-9]/.test(url.username)) return 'the user of an ssh:// URL must start with a letter or digit';
      if (!/^[A-Za-z0-9]/.test(url.hostname)) return 'the host of an ssh:// URL must be a host name';
      return url.pathname.length > 1 ? undefined : 'needs a repository path after the host';
    case 'file:':
      return url.host === '' && url.pathname.length > 1 ? undefined : 'a file:// URL must name an absolute path on this machine (file:///srv/git/app.git)';
    case 'http:':
      return 'plain http:// is not accepted; use https://';
    default:
      return `the ${url.protocol.slice(0, -1)} transport is not accepted; use https://, ssh://, user@host:path, file:// or an absolute path`;
  }
}

function credentialsInUrl(): string {
  return 'must not carry credentials (user:password@ or a token): put them in an environment variable of the workers and name it in credentialsSecret';
}

/** Problems with a base branch name; what git itself refuses, plus a leading "-" (it would read as an option). */
function branchProblem(branch: string): string | undefined {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$/.test(branch))
    return 'must be a branch name: letters, digits, ".", "_", "-" and "/", starting with a letter, digit or "_"';
  if (branch.includes('..') || branch.includes('//') || branch.includes('/.') || /[/.]$/.test(branch) || branch.endsWith('.lock'))
    return `"${branch}" is not a valid git branch name`;
  return undefined;
}

const check =
  <T>(problem: (v: T) => string | undefined) =>
  (v: T, ctx: z.RefinementCtx) => {
    const message = problem(v);
    if (message) ctx.addIssue({ code: 'custom', message });
  };

const ProjectName = z
  .string()
  .regex(PROJECT_NAME_PATTERN, { error: 'must be lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters' })
  .refine((n) => !RESERVED_PROJECT_NAMES.has(n), { error: (i) => `"${String(i.input)}" is reserved (${[...RESERVED_PROJECT_NAMES].join(', ')})` });
const Remote = z.string().min(1).max(2048).superRefine(check(remoteProblem));
const BaseBranch = z.string().superRefine(check(branchProblem));
/** What credentialsSecret holds: an environment variable's name. */
export const CREDENTIALS_SECRET_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;

const CredentialsSecret = z
  .string()
  .regex(CREDENTIALS_SECRET_PATTERN, { error: 'must be the name of an environment variable (A-Z, 0-9 and "_", not starting with a digit), never its value' })
  .refine((n) => !OWN_VARIABLE.test(n), { error: "must not be one of greenloop's own variables (GREENLOOP_*, REDIS_*)" });

/** What POST /v1/projects takes. */
const ProjectCreateSchema = z.strictObject({
  name: ProjectName,
  remote: Remote,
  baseBranch: BaseBranch.default('main'),
  credentialsSecret: CredentialsSecret.optional(),
});
export type ProjectCreate = z.input<typeof ProjectCreateSchema>;

/** What PATCH /v1/projects/:name takes: the fields given change; `credentialsSecret: null` removes it. */
const ProjectPatchSchema = z.strictObject({
  remote: Remote.optional(),
  baseBranch: BaseBranch.optional(),
  credentialsSecret: CredentialsSecret.nullable().optional(),
});
export type ProjectPatch = z.input<typeof ProjectPatchSchema>;

/** Parses with a schema; a mismatch is PROJECT_INVALID, its issues naming the field ("remote: ..."). */
function parseProject<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = formatIssues(result.error);
  throw new GreenloopError('PROJECT_INVALID', `invalid project: ${issues.join('; ')}`, { details: { issues } });
}

// KEYS: record. ARGV: the JSON read, the JSON to write. Writes only if nobody changed the record since.
const COMPARE_AND_SET = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2])
return 1
`;

/**
 * Projects in Redis under the store's prefix: `<prefix>:project:<name>` (JSON record) and
 * `<prefix>:projects` (the set of names). Built on the LoopStore because deleting a project asks which of
 * its loops hold an environment claim.
 */
export class ProjectStore {
  readonly #store: LoopStore;

  constructor(store: LoopStore) {
    this.#store = store;
  }

  private recordKey(name: string): string {
    return this.#store.key('project', name);
  }

  private get namesKey(): string {
    return this.#store.key('projects');
  }

  /** Creates a project; PROJECT_INVALID names the field, PROJECT_EXISTS when the name is taken. */
  async create(input: ProjectCreate, createdBy: string): Promise<ProjectRecord> {
    const fields = parseProject(ProjectCreateSchema, input);
    const now = new Date().toISOString();
    const record: ProjectRecord = { ...stripUndefined(fields), createdAt: now, updatedAt: now, createdBy };
    // SET NX claims the name atomically: two admins adding "shop" at once get one project and one conflict.
    const [set] = pipelineValues(
      await this.#store.redis.multi().set(this.recordKey(record.name), JSON.stringify(record), 'NX').sadd(this.namesKey, record.name).exec(),
    );
    if (set !== 'OK') throw new GreenloopError('PROJECT_EXISTS', `a project named "${record.name}" already exists; change it with PATCH or remove it first`);
    return record;
  }

  async get(name: string): Promise<ProjectRecord | undefined> {
    const raw = await this.#store.redis.get(this.recordKey(name));
    return raw ? (JSON.parse(raw) as ProjectRecord) : undefined;
  }

  /** Every project, by name. */
  async list(): Promise<ProjectRecord[]> {
    const names = (await this.#store.redis.smembers(this.namesKey)).sort();
    if (names.length === 0) return [];
    const raws = await this.#store.redis.mget(names.map((n) => this.recordKey(n)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as ProjectRecord);
  }

  /**
   * Changes the fields `patch` gives (PATCH semantics); undefined when there is no such project. Loops
   * already created keep the copy they were made with. Concurrent updates both apply: each is a
   * compare-and-set on the record, retried on a lost race.
   */
  async update(name: string, patch: ProjectPatch): Promise<ProjectRecord | undefined> {
    const fields = parseProject(ProjectPatchSchema, patch);
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await this.#store.redis.get(this.recordKey(name));
      if (!raw) return undefined;
      const next: ProjectRecord = { ...(JSON.parse(raw) as ProjectRecord), updatedAt: new Date().toISOString() };
      if (fields.remote !== undefined) next.remote = fields.remote;
      if (fields.baseBranch !== undefined) next.baseBranch = fields.baseBranch;
      if (fields.credentialsSecret === null) delete next.credentialsSecret;
      else if (fields.credentialsSecret !== undefined) next.credentialsSecret = fields.credentialsSecret;
      if ((await this.#store.redis.eval(COMPARE_AND_SET, 1, this.recordKey(name), raw, JSON.stringify(next))) === 1) return next;
    }
    throw new GreenloopError('PROJECT_CONTENDED', `project "${name}" kept changing while this update was being written; retry it`, { retryable: true });
  }

  /**
   * The project's loops that are queued or running: those holding an environment claim of the project
   * (a loop claims its environment before it is queued and keeps the claim until it has torn down).
   */
  async activeLoops(name: string): Promise<{ id: string; environment: string; state: LoopState }[]> {
    const holders = await this.#store.claims.holdersUnder(`${name}/`);
    const loops = await this.#store.getLoops([...holders.values()]);
    return loops.filter((l) => !TERMINAL_STATES.includes(l.state)).map((l) => ({ id: l.id, environment: l.environment, state: l.state }));
  }

  /**
   * Deletes the project; undefined when there was none. Refused (PROJECT_BUSY, naming the loops) while a
   * loop of the project is queued or running. A loop created in the same instant as the delete still runs
   * to its end: it carries its own copy of the project.
   */
  async delete(name: string): Promise<ProjectRecord | undefined> {
    const record = await this.get(name);
    if (!record) return undefined;
    const active = await this.activeLoops(name);
    if (active.length) {
      const which = active.map((l) => `${l.id} (${l.environment}, ${l.state})`).join(', ');
      throw new GreenloopError('PROJECT_BUSY', `project "${name}" has ${active.length} active loop(s): ${which}; cancel them or wait for them to finish`, {
        details: { loops: active },
      });
    }
    await this.#store.redis.multi().del(this.recordKey(name)).srem(this.namesKey, name).exec();
    return record;
  }
  /**
   * Where a loop on `environment` takes its code from: nothing for a short name (the installation's own
   * repository), the project's source for `<project>/<environment>`. Throws PROJECT_NOT_FOUND for an
   * unknown project, and WORKERS_OUTDATED while a live worker would not understand LoopRecord.source
   * (it would run the loop against its own repository). The environment itself is not checked: only
   * the worker reads greenloop.yaml, at the loop's commit.
   */
  async loopSource(environment: string): Promise<LoopSource | undefined> {
    const { project } = splitEnvironmentName(environment);
    if (project === undefined) return undefined;
    const record = await this.get(project);
    if (!record) throw projectNotFound(project, environment);
    const outdated = (await listWorkers(this.#store.redis, this.#store.prefix)).filter((w) => !(w.capabilities ?? []).includes(PROJECTS_CAPABILITY));
    if (outdated.length)
      throw new GreenloopError(
        'WORKERS_OUTDATED',
        `${outdated.length} worker(s) run an older greenloop without project support; upgrade them first (GET /v1/workers lists them)`,
        // Retryable: it passes by itself once the upgrade is through (a scheduled loop tries again).
        { retryable: true, details: { workers: outdated.map((w) => ({ id: w.id, host: w.host, version: w.version })) } },
      );
    return projectSource(record);
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** PROJECT_NOT_FOUND for `name` (reached through `environment`, when given). */
export function projectNotFound(name: string, environment?: string): GreenloopError {
  const via = environment ? ` (environment "${environment}")` : '';
  return new GreenloopError('PROJECT_NOT_FOUND', `unknown project "${name}"${via}; add it with POST /v1/projects or \`greenloop projects add\``);
}
