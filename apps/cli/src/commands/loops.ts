import type { LoopRecord } from '@greenloop/core';
import { TERMINAL_STATES } from '@greenloop/core';
import { ApiRequestError, ApiUnreachableError } from '../client.ts';
import { EXIT, exitCodeFor, type Io, UsageError } from '../io.ts';
import { type LoopView, loopDetail, loopsTable, nextSteps, progressLine, renderMarkdown, stateLabel } from '../render.ts';

const LOOP_ID = /^[a-z0-9-]{6,64}$/;

function loopIdArg(id: string | undefined, usage: string): string {
  if (!id) throw new UsageError(`missing loop id; usage: ${usage}`);
  if (!LOOP_ID.test(id)) throw new UsageError(`"${id}" is not a loop id (lowercase letters, digits and dashes, e.g. mwv5ziw4-a632c97b)`);
  return id;
}

/** `greenloop start <environment | project/environment> [--wait] [--idempotency-key K] [--json]` */
export async function startCommand(io: Io, args: string[], flags: { wait: boolean; json: boolean; idempotencyKey?: string }): Promise<number> {
  const [environment, ...extra] = args;
  if (!environment || extra.length) throw new UsageError('usage: greenloop start <environment>|<project>/<environment> [--wait]');
  const p = io.paint;
  let created: { status: number; body: LoopRecord };
  try {
    created = await io.api.json<LoopRecord>('POST', '/v1/loops', {
      body: { environment },
      ...(flags.idempotencyKey ? { headers: { 'idempotency-key': flags.idempotencyKey } } : {}),
    });
  } catch (err) {
    if (err instanceof ApiRequestError && err.code === 'ENVIRONMENT_BUSY') {
      const active = String(err.body.activeLoopId ?? '');
      io.err(`${p.red('busy:')} ${err.message}`);
      io.err(`  follow it:  greenloop status ${active}`);
      return EXIT.error;
    }
    throw err;
  }
  const loop = created.body;
  if (!flags.json) io.out(`${created.status === 200 ? 'already started' : 'started'} loop ${p.bold(loop.id)} on ${environment} ${p.dim(`(${loop.state})`)}`);
  if (!flags.wait) {
    if (flags.json) io.out(JSON.stringify(loop, null, 2));
    else io.out(p.dim(`  follow it:  greenloop status ${loop.id}    wait for it:  greenloop start ${environment} --wait --idempotency-key <key>`));
    return EXIT.ok;
  }
  return await followToEnd(io, loop.id, flags.json);
}

/** `greenloop watch <loop> [--json]`: follows a loop already started (by anyone) to its end; exits as `start --wait`. */
export async function watchCommand(io: Io, args: string[], flags: { json: boolean }): Promise<number> {
  const [idArg, ...extra] = args;
  if (extra.length) throw new UsageError('usage: greenloop watch <loop>');
  const id = loopIdArg(idArg, 'greenloop watch <loop>');
  const loop = await io.api.get<LoopRecord>(`/v1/loops/${id}`);
  if (!flags.json) io.out(`watching loop ${io.paint.bold(id)} on ${loop.environment} ${io.paint.dim(`(${loop.state})`)}`);
  return await followToEnd(io, id, flags.json);
}

/** Follows a loop live to its end, says how it ended (and what to read next) and returns the exit code for it. */
async function followToEnd(io: Io, loopId: string, json: boolean): Promise<number> {
  const p = io.paint;
  const final = await follow(io, loopId, { quiet: json });
  if (!final) return EXIT.interrupted;
  if (json) io.out(JSON.stringify(final, null, 2));
  else {
    io.out('');
    io.out(`loop ${final.id} ${stateLabel(p, final.state)}${final.stop ? `: ${final.stop.message}` : ''}`);
    // A report exists only when a cycle got as far as analyzing; after a failed deploy, point at what does exist.
    if (final.state !== 'green' && final.cycle > 0) for (const line of nextSteps(p, await io.api.get<LoopView>(`/v1/loops/${final.id}`))) io.out(line);
  }
  return exitCodeFor(final.state);
}

/**
 * Prints progress from the loop's event stream until the loop has finished; returns the final record,
 * or undefined when interrupted. A stream that ends early (API restart) is resumed after the last event.
 */
async function follow(io: Io, loopId: string, opts: { quiet: boolean }): Promise<LoopRecord | undefined> {
  const startedAt = Date.now();
  let unreachable = 0;
  while (!io.signal.aborted) {
    try {
      for await (const e of io.api.events(`/v1/loops/${loopId}/events`, { signal: io.signal })) {
        if (!opts.quiet) {
          const line = progressLine(io.paint, e, startedAt);
          if (line) io.out(line);
        }
      }
      if (io.signal.aborted) break;
      const loop = await io.api.get<LoopRecord>(`/v1/loops/${loopId}`);
      if (TERMINAL_STATES.includes(loop.state)) return loop;
      unreachable = 0;
    } catch (err) {
      if (io.signal.aborted) break;
      if (!(err instanceof ApiUnreachableError) || ++unreachable > 10) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  io.err(io.paint.yellow(`\ninterrupted; the loop keeps running. Cancel it with: greenloop cancel ${loopId}`));
  return undefined;
}

/** `greenloop status [loop] [--env E] [--state S] [--limit N] [--json]` */
export async function statusCommand(io: Io, args: string[], flags: { json: boolean; env?: string; state?: string; limit?: string }): Promise<number> {
  const [id, ...extra] = args;
  if (extra.length) throw new UsageError('usage: greenloop status [loop]');
  if (id) {
    const loop = await io.api.get<LoopView>(`/v1/loops/${loopIdArg(id, 'greenloop status <loop>')}`);
    io.out(flags.json ? JSON.stringify(loop, null, 2) : loopDetail(io.paint, loop));
    return EXIT.ok;
  }
  const q = new URLSearchParams();
  if (flags.env) q.set('environment', flags.env);
  if (flags.state) q.set('state', flags.state);
  q.set('limit', flags.limit ?? '20');
  const page = await io.api.get<{ loops: LoopRecord[]; nextCursor?: string }>(`/v1/loops?${q}`);
  io.out(flags.json ? JSON.stringify(page, null, 2) : loopsTable(io.paint, page.loops));
  return EXIT.ok;
}

/** `greenloop report <loop> [cycle] [--json] [--raw]` */
export async function reportCommand(io: Io, args: string[], flags: { json: boolean; raw: boolean }): Promise<number> {
  const [idArg, cycleArg, ...extra] = args;
  if (extra.length) throw new UsageError('usage: greenloop report <loop> [cycle]');
  const id = loopIdArg(idArg, 'greenloop report <loop> [cycle]');
  let n: number;
  if (cycleArg !== undefined) {
    if (!/^[1-9][0-9]{0,5}$/.test(cycleArg)) throw new UsageError(`cycle must be a positive number, got "${cycleArg}"`);
    n = Number(cycleArg);
  } else {
    const loop = await io.api.get<LoopView>(`/v1/loops/${id}`);
    const latest = (loop.cycles ?? []).filter((c) => c.hasReport).at(-1);
    if (!latest) {
      io.err(`loop ${id} has no cycle report yet (${loop.state}, cycle ${loop.cycle})`);
      return EXIT.error;
    }
    n = latest.n;
  }
  const path = `/v1/loops/${id}/cycles/${n}/report`;
  if (flags.json) {
    io.out(await io.api.text(path, 'application/json'));
    return EXIT.ok;
  }
  const md = await io.api.text(path, 'text/markdown');
  io.out(flags.raw || !io.isTTY ? md : renderMarkdown(io.paint, md));
  return EXIT.ok;
}

/** `greenloop cancel <loop>` */
export async function cancelCommand(io: Io, args: string[]): Promise<number> {
  const [idArg, ...extra] = args;
  if (extra.length) throw new UsageError('usage: greenloop cancel <loop>');
  const id = loopIdArg(idArg, 'greenloop cancel <loop>');
  try {
    const { body } = await io.api.json<LoopRecord>('POST', `/v1/loops/${id}/cancel`);
    io.out(`cancel requested for loop ${id} (${body.state} on ${body.environment}); running stages stop now`);
    return EXIT.ok;
  } catch (err) {
    // Cancelling what already ended is what the caller wanted anyway: say so, do not fail a script.
    if (err instanceof ApiRequestError && err.code === 'LOOP_FINISHED') {
      io.out(err.message);
      return EXIT.ok;
    }
    throw err;
  }
}
