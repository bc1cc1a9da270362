import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { GreenloopError } from '@greenloop/core';
import { confine, type SandboxSettings, type SandboxSpec } from './sandbox.ts';

export interface RunCommandOptions {
  /** argv[0] is the program; nothing passes through a shell. */
  argv: readonly string[];
  cwd: string;
  /** The complete environment of the child (callers build it from an allow-list). */
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Where stdout/stderr go; each is capped at `outputLimit` bytes and the rest counted as dropped. */
  stdoutFile: string;
  stderrFile: string;
  outputLimit?: number;
  signal?: AbortSignal;
  /** Called with the pid as soon as the child exists (persisted so a retry can kill a stale run). */
  onSpawn?: (pid: number) => void | Promise<void>;
  /** Called with each chunk of output, for progress displays. */
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Run inside the sandbox (process/sandbox.ts) under these settings; the result says whether it was. */
  sandbox?: { settings: SandboxSettings } & Omit<SandboxSpec, 'argv' | 'cwd' | 'env'>;
  /**
   * At the timeout, `interrupt` runs first and the group is killed only `graceMs` later: a test runner
   * told to stop (pytest on SIGINT) writes the results it has, so a suite that times out still has some.
   */
  onTimeout?: { interrupt: () => void; graceMs: number };
}

export interface RunCommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  truncatedBytes: number;
  /** Whether the command ran inside the sandbox; `sandboxWarning` says why not under `sandbox: auto`. */
  sandboxed: boolean;
  sandboxWarning?: string;
}

/** Kills a whole process group (the child was started detached, so its pid is the group id). */
export function killGroup(pid: number, sig: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {}
  }
}

/** Whether any process of the group `pgid` still exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process exists and is not a zombie (an exited child nobody reaped still answers kill 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Linux: field 3 of /proc/<pid>/stat is the state; Z is a zombie. Elsewhere, trust kill(0).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function cappedSink(file: string, limit: number) {
  const out: WriteStream = createWriteStream(file);
  let written = 0;
  let dropped = 0;
  return {
    write(chunk: Buffer) {
      const room = limit - written;
      if (room <= 0) {
        dropped += chunk.length;
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      out.write(part);
      written += part.length;
      dropped += chunk.length - part.length;
    },
    async end(): Promise<number> {
      if (dropped) out.write(`\n[greenloop: ${dropped} more bytes not kept; raise the output limit to keep them]\n`);
      await new Promise<void>((r) => out.end(r));
      return dropped;
    },
  };
}

/**
 * Runs one argv to completion in its own process group. The timeout and cancellation kill the whole
 * group (SIGTERM, then SIGKILL after 2s), so a test runner's grandchildren cannot outlive it.
 * A program that cannot be started is a non-retryable error naming the program.
 */
export async function runCommand(opts: RunCommandOptions): Promise<RunCommandResult> {
  const confined = opts.sandbox ? await confine({ ...opts.sandbox, argv: opts.argv, cwd: opts.cwd, env: opts.env }, opts.sandbox.settings) : undefined;
  const [program, ...args] = confined?.argv ?? opts.argv;
  if (!program) throw new GreenloopError('COMMAND_EMPTY', 'empty command');
  const limit = opts.outputLimit ?? 2_000_000;
  const stdout = cappedSink(opts.stdoutFile, limit);
  const stderr = cappedSink(opts.stderrFile, limit);
  const started = Date.now();
  let timedOut = false;
  let cancelled = false;

  const child = spawn(program, args, { cwd: opts.cwd, env: { ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  child.stdout.on('data', (c: Buffer) => {
    stdout.write(c);
    opts.onOutput?.(c, 'stdout');
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr.write(c);
    opts.onOutput?.(c, 'stderr');
  });

  const stop = () => {
    if (child.pid === undefined) return;
    const pid = child.pid;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), 2000).unref();
  };
  let grace: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    if (!opts.onTimeout) return stop();
    opts.onTimeout.interrupt();
    grace = setTimeout(stop, opts.onTimeout.graceMs);
  }, opts.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // Listen for the end before awaiting the hook: a short child may close while its record is written.
  const closed = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve) => child.once('close', (code, sig) => resolve({ code, sig })));
  if (child.pid !== undefined) await opts.onSpawn?.(child.pid);

  const outcome = await Promise.race([closed, spawnError]);
  clearTimeout(timer);
  clearTimeout(grace);
  opts.signal?.removeEventListener('abort', onAbort);
  const truncatedBytes = (await stdout.end()) + (await stderr.end());
  if (outcome instanceof Error) {
    const code = (outcome as NodeJS.ErrnoException).code;
    throw new GreenloopError('COMMAND_NOT_STARTED', `could not start "${program}": ${code ?? outcome.message}`, {
      hint: code === 'ENOENT' ? `"${program}" is not on PATH or does not exist relative to ${opts.cwd}` : 'check the command in greenloop.yaml',
    });
  }
  const sandbox = { sandboxed: confined?.sandboxed ?? false, ...(confined?.warning ? { sandboxWarning: confined.warning } : {}) };
  return { exitCode: outcome.code, signal: outcome.sig, timedOut, cancelled, durationMs: Date.now() - started, truncatedBytes, ...sandbox };
}
