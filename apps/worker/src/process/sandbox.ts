import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, resolve, sep } from 'node:path';
import { GreenloopError } from '@greenloop/core';

/**
 * The sandbox for every process that runs code from the loop's branch (fixers, verify commands, test
 * suites, local services): bubblewrap with new user, pid, ipc, uts and mount namespaces, the system
 * read-only, greenloop's places hidden under empty tmpfs, a fresh /proc (so greenloop's
 * /proc/<pid>/environ is not reachable), a private /tmp, and only the command's own checkout (plus the
 * artifacts directory it must write) writable. The environment is exactly the one given.
 */

/** `sandbox:` in greenloop.yaml. auto: bwrap when it works; else tests/services unsandboxed, fixers refused. */
export type SandboxMode = 'auto' | 'on' | 'off';
export type SandboxNetwork = 'host' | 'none';
export type CommandKind = 'fixer' | 'verify' | 'test' | 'service' | 'deploy';

export interface SandboxSettings {
  mode: SandboxMode;
  /** greenloop's own places, hidden from every sandboxed command (an empty read-only directory): its home, the user's repository. */
  hide: readonly string[];
  /** Places hidden behind an empty writable scratch directory (the HOME of greenloop's OS user: tools write caches there). */
  scratch?: readonly string[];
  /** The bubblewrap program (default `bwrap` on PATH). */
  bwrap?: string;
}

export interface SandboxSpec {
  kind: CommandKind;
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  network: SandboxNetwork;
  /** Directories the command may write: its checkout, the artifacts directory of this run only. */
  writable: readonly string[];
  /** Files or directories it may read although they lie under a hidden place (a prompt, git alternates). */
  readable?: readonly string[];
  /**
   * A local service must outlive a worker restart (the next worker stops it by pid), so it gets neither
   * --die-with-parent nor --new-session: the spawn is already detached (setsid, no terminal), and staying
   * in bwrap's process group lets a group kill reach the sandbox's pid 1, whose exit ends the whole tree.
   */
  outliveParent?: boolean;
}

export interface Confined {
  /** What to spawn: the bwrap argv, or the command itself when not sandboxed. */
  argv: string[];
  sandboxed: boolean;
  /** Why a command runs unsandboxed under `sandbox: auto` (for the log and the record). */
  warning?: string;
}

/** Places no command should see even when greenloop's own are elsewhere: runtime sockets (Redis)... */
const ALWAYS_HIDDEN = ['/run', '/var/run'];
/** ...and shared scratch directories, replaced by private ones. */
const ALWAYS_SCRATCH = ['/tmp', '/var/tmp'];

/**
 * Whether bubblewrap works here (installed, and user namespaces allowed): `bwrap --version` plus a
 * trivial sandboxed run, once per process and program.
 */
export function probeSandbox(bwrap = 'bwrap'): Promise<Probe> {
  let probe = probes.get(bwrap);
  if (!probe) {
    probe = runProbe(bwrap);
    probes.set(bwrap, probe);
  }
  return probe;
}
const probes = new Map<string, Promise<Probe>>();
/** `path`: the program's absolute path, spawned as such (a command's own PATH may not lead to it). */
type Probe = { available: boolean; detail: string; path?: string };

async function runProbe(name: string): Promise<Probe> {
  const bwrap = isAbsolute(name)
    ? name
    : (`${process.env.PATH ?? ''}${delimiter}/usr/bin${delimiter}/bin`
        .split(delimiter)
        .filter(isAbsolute)
        .map((d) => resolve(d, name))
        .find(isFile) ?? name);
  const run = (args: string[]) =>
    new Promise<{ ok: boolean; out: string }>((done) => {
      execFile(bwrap, args, { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } }, (err, stdout, stderr) =>
        done({ ok: !err, out: `${stdout}${stderr}`.trim() || (err ? err.message : '') }),
      );
    });
  const version = await run(['--version']);
  if (!version.ok) return { available: false, detail: `bubblewrap (${bwrap}) is not installed: ${version.out}` };
  const trivial = await run([...BASE_FLAGS, '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true']);
  if (!trivial.ok) return { available: false, detail: `${version.out} cannot create namespaces here (user namespaces disabled?): ${trivial.out}` };
  return { available: true, detail: version.out, path: bwrap };
}

const BASE_FLAGS = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];

/**
 * Decides how a command runs under `settings.mode` and returns what to spawn. Throws
 * `COMMAND_NOT_STARTED` when the program does not exist (as an unsandboxed spawn would), `SANDBOX_REQUIRED`
 * for a fixer or verify command under `auto` without bwrap, `SANDBOX_UNAVAILABLE` under `on` without bwrap.
 */
export async function confine(spec: SandboxSpec, settings: SandboxSettings): Promise<Confined> {
  if (settings.mode === 'off') return { argv: [...spec.argv], sandboxed: false };
  const program = resolveProgram(spec.argv, spec.cwd, spec.env.PATH);
  const bwrap = settings.bwrap ?? 'bwrap';
  const probe = await probeSandbox(bwrap);
  if (!probe.available) {
    if (settings.mode === 'on') {
      throw new GreenloopError('SANDBOX_UNAVAILABLE', `sandbox: on, but ${probe.detail}`, {
        hint: 'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; in Docker allow user namespaces) or set sandbox: auto',
      });
    }
    if (spec.kind === 'fixer' || spec.kind === 'verify') {
      throw new GreenloopError('SANDBOX_REQUIRED', `refusing to run the ${spec.kind} command unsandboxed: ${probe.detail}`, {
        hint: 'install bubblewrap, or set sandbox: off in greenloop.yaml to run fixers with greenloop’s own access (not recommended)',
      });
    }
    return { argv: [...spec.argv], sandboxed: false, warning: `running the ${spec.kind} command unsandboxed: ${probe.detail}` };
  }
  return { argv: bwrapArgv(spec, settings, probe.path ?? bwrap, program), sandboxed: true };
}

/** The bubblewrap argv for `spec` (exported for tests and the README's flag list). */
export function bwrapArgv(spec: SandboxSpec, places: Pick<SandboxSettings, 'hide' | 'scratch'>, bwrap = 'bwrap', program?: string): string[] {
  const args = [bwrap, ...BASE_FLAGS];
  if (spec.network === 'none') args.push('--unshare-net');
  if (!spec.outliveParent) args.push('--die-with-parent', '--new-session');
  args.push('--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev');

  // Nested places each get their own tmpfs (a repository inside /tmp is read-only even though /tmp is scratch).
  const real = (list: readonly string[]) => [...new Set(list.flatMap((p) => existing(p)).filter((p) => p !== sep))];
  const readOnly = real([...ALWAYS_HIDDEN, ...places.hide]);
  const covered = [...new Set([...readOnly, ...real([...ALWAYS_SCRATCH, ...(places.scratch ?? [])])])].sort((a, b) => a.length - b.length);
  for (const p of covered) args.push('--tmpfs', p);
  const hidden = topmost(covered);
  const under = (p: string) => hidden.some((h) => p === h || p.startsWith(h + sep));
  // A hidden place itself (or a directory holding one) is never re-exposed: `~/bin` on PATH must not bring back `~`.
  const whole = (p: string) => covered.some((h) => h === p || h.startsWith(p + sep));

  // Re-exposed read-only: what the command was told to read, the program and interpreters it needs.
  const readable = new Map<string, string>();
  const expose = (path: string) => {
    if (!isAbsolute(path) || !existsSync(path)) return;
    const real = realpathSync(path);
    if (whole(path) || whole(real)) return;
    if (under(path)) readable.set(path, real);
    if (real !== path && under(real)) readable.set(real, real);
  };
  for (const p of spec.readable ?? []) expose(p);
  for (const dir of (spec.env.PATH ?? '').split(delimiter)) {
    if (!isAbsolute(dir) || !under(dir)) continue;
    const prefix = toolPrefix(dir);
    expose(whole(prefix) ? dir : prefix);
  }
  if (program) expose(program);
  for (const a of spec.argv.slice(1)) if (isAbsolute(a) && isFile(a)) expose(a);
  expose('/etc/resolv.conf');
  for (const [dest, src] of [...readable].sort(([a], [b]) => a.length - b.length)) args.push('--ro-bind', src, dest);

  for (const p of [...new Set(spec.writable.map((d) => resolve(d)))].sort((a, b) => a.length - b.length)) {
    if (!existsSync(p)) continue;
    args.push('--bind', p, p);
    // A worktree's .git file points into the user's repository, and greenloop runs git there afterwards
    // (dossiers): the command must not redirect it to a gitdir of its own making.
    const dotGit = `${p}${sep}.git`;
    if (existsSync(dotGit) && lstatSync(dotGit).isFile()) args.push('--ro-bind', dotGit, dotGit);
  }
  // Last, so the mount points for the binds above could still be made in them.
  for (const p of readOnly) args.push('--remount-ro', p);
  args.push('--chdir', resolve(spec.cwd), '--clearenv');
  for (const [k, v] of Object.entries(spec.env)) args.push('--setenv', k, v);
  args.push('--', ...spec.argv);
  return args;
}

/**
 * The directory to expose for a PATH entry under a hidden place: a `bin`/`.bin` directory's parent,
 * so the symlinks in it (node_modules/.bin/node → ../node/bin/node, ~/.cargo/bin) still resolve.
 */
function toolPrefix(dir: string): string {
  const name = basename(dir);
  return name === 'bin' || name === '.bin' ? dirname(dir) : dir;
}

/** Real paths of `p` (and `p` itself when it is a symlink), if it exists. */
function existing(p: string): string[] {
  const abs = resolve(p);
  if (!existsSync(abs)) return [];
  const real = realpathSync(abs);
  return lstatSync(abs).isSymbolicLink() ? [real] : [abs];
}

/** The paths of `paths` that are not inside another one, shortest first. */
function topmost(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const p of sorted) if (!kept.some((k) => p === k || p.startsWith(k + sep))) kept.push(p);
  return kept;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The program's path, found as spawn would (relative to cwd when it has a slash, else on the child's
 * PATH); a missing program is the same error runCommand gives, since bwrap would only exit 1.
 */
function resolveProgram(argv: readonly string[], cwd: string, path: string | undefined): string {
  const program = argv[0];
  if (!program) throw new GreenloopError('COMMAND_EMPTY', 'empty command');
  const candidates = program.includes('/') ? [resolve(cwd, program)] : (path ?? '').split(delimiter).map((d) => resolve(cwd, d, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {}
  }
  throw new GreenloopError('COMMAND_NOT_STARTED', `could not start "${program}": ENOENT`, {
    hint: `"${program}" is not on PATH or does not exist relative to ${cwd}`,
  });
}

/**
 * One environment's settings: its `sandbox:` mode, with greenloop's home (artifacts of every loop, its
 * Redis data), the user's repository and the home directory of greenloop's OS user hidden.
 */
export function sandboxSettings(mode: SandboxMode, places: { home: string; repo: string; userHome?: string | undefined }): SandboxSettings {
  return { mode, hide: [places.home, places.repo], scratch: places.userHome ? [places.userHome] : [] };
}
