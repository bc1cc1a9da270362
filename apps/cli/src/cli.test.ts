import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupTestApi, type TestApi } from '@greenloop/api/testing';
import type { LoopRecord, LoopState, Role } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runCli } from './cli.ts';

let t: TestApi;
let url: string;

beforeEach(async () => {
  t = await setupTestApi({ deps: { sse: { heartbeatMs: 200 } } });
  url = await t.app.listen({ port: 0, host: '127.0.0.1' });
});

afterEach(async () => {
  await t.cleanup();
});

async function cli(argv: string[], opts: { role?: Role | 'none'; signal?: AbortSignal; env?: Record<string, string> } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const role = opts.role ?? 'operator';
  const code = await runCli({
    argv,
    processEnv: { GREENLOOP_URL: url, ...(role === 'none' ? {} : { GREENLOOP_API_TOKEN: t.token[role] }), ...opts.env },
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTTY: false,
    signal: opts.signal ?? new AbortController().signal,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Plays the worker's part for the first loop on `environment`: events, records, a final state. */
async function playLoop(environment: string, final: LoopState): Promise<void> {
  let loop: LoopRecord | undefined;
  for (let i = 0; i < 200 && !loop; i++) {
    loop = (await t.store.listLoops({ limit: 1, environment })).loops[0];
    if (!loop) await new Promise((r) => setTimeout(r, 25));
  }
  if (!loop) throw new Error('no loop was started');
  const id = loop.id;
  await t.store.saveLoop({ ...loop, state: 'running', cycle: 1, stage: 'deploy' });
  await t.store.emit({ type: 'loop.started', loopId: id, message: 'loop started on staging at abc1234 (branch greenloop/x)' });
  await t.store.emit({ type: 'cycle.started', loopId: id, cycle: 1, message: 'cycle 1 started at abc1234' });
  await t.store.emit({ type: 'stage.finished', loopId: id, cycle: 1, stage: 'deploy', message: 'deploy succeeded: api ready', data: { status: 'succeeded' } });
  const totals = { total: 10, passed: final === 'green' ? 10 : 7, failed: final === 'green' ? 0 : 3, skipped: 0, durationMs: 900 };
  await t.store.emit({ type: 'cycle.finished', loopId: id, cycle: 1, message: 'cycle 1 finished', data: { totals, green: final === 'green' } });
  const stop =
    final === 'green'
      ? { rule: 'green' as const, message: 'all tests pass' }
      : final === 'cancelled'
        ? { rule: 'cancelled' as const, message: 'cancelled by test-operator' }
        : { rule: 'max-cycles' as const, message: 'reached 1 cycle' };
  await t.store.saveLoop({ ...loop, state: final, cycle: 1, latest: totals, stop, startedAt: loop.createdAt, finishedAt: new Date().toISOString() });
  await t.store.releaseEnvironment(environment, id);
  await t.store.emit({ type: 'loop.finished', loopId: id, cycle: 1, message: `loop ${final}: ${stop.message}`, data: { state: final, stop } });
}

describe('start --wait', () => {
  test.each([
    ['green', 0],
    ['stopped', 2],
    ['cancelled', 3],
    ['failed', 1],
  ] as const)('a loop that ends %s exits %i, with live progress', async (final, code) => {
    const [res] = await Promise.all([cli(['start', 'staging', '--wait']), playLoop('staging', final)]);
    expect(res.code, res.err).toBe(code);
    expect(res.out).toMatch(/started loop [a-z0-9-]+ on staging/);
    expect(res.out).toContain('cycle 1 · deploy  deploy succeeded: api ready');
    expect(res.out).toContain(final === 'green' ? 'green  10 passed of 10' : 'not green  7 passed, 3 failed of 10');
    expect(res.out).toContain(`loop ${final}`);
  });

  test('a busy environment exits 1 naming the active loop; without --wait start exits 0 at once', async () => {
    const first = await cli(['start', 'staging']);
    expect(first.code).toBe(0);
    const id = /started loop ([a-z0-9-]+)/.exec(first.out)?.[1];
    const busy = await cli(['start', 'staging', '--wait']);
    expect(busy.code).toBe(1);
    expect(busy.err).toContain(`greenloop status ${id}`);
  });

  test('Ctrl-C while waiting exits 130 and leaves the loop running', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 500);
    const res = await cli(['start', 'staging', '--wait'], { signal: abort.signal });
    expect(res.code).toBe(130);
    expect(res.err).toContain('the loop keeps running');
  });
});

describe('other commands', () => {
  test('status lists loops and shows one; cancel asks it to stop', async () => {
    const started = await cli(['start', 'production', '--json']);
    const loop = JSON.parse(started.out) as LoopRecord;
    const list = await cli(['status'], { role: 'viewer' });
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/LOOP\s+ENVIRONMENT\s+STATE/);
    expect(list.out).toContain(loop.id);
    const one = await cli(['status', loop.id], { role: 'viewer' });
    expect(one.out).toContain(`loop ${loop.id}  queued`);
    expect(one.out).toContain('started by   api:test-operator');
    const denied = await cli(['cancel', loop.id], { role: 'viewer' });
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('this needs the operator role; token "test-viewer" has the viewer role (403 FORBIDDEN)');
    const cancel = await cli(['cancel', loop.id]);
    expect(cancel.code).toBe(0);
    expect(cancel.out).toContain(`cancel requested for loop ${loop.id}`);
  });

  test('report prints the latest cycle report, raw when piped', async () => {
    await t.store.createLoop({
      id: 'cli-report-1',
      environment: 'staging',
      state: 'stopped',
      createdAt: new Date().toISOString(),
      startedBy: { kind: 'api', name: 'x' },
      cycle: 2,
    });
    const dir = join(t.home, 'artifacts', 'cli-report-1');
    mkdirSync(dir, { recursive: true });
    for (const n of [1, 2]) {
      writeFileSync(join(dir, `c${n}.md`), `# Cycle ${n}\n\n| test | status |\n|---|---|\n| a | failed |\n`);
      writeFileSync(join(dir, `c${n}.json`), JSON.stringify({ n }));
      await t.store.saveCycle({
        loopId: 'cli-report-1',
        n,
        commit: 'abc',
        startedAt: new Date().toISOString(),
        report: { markdown: join(dir, `c${n}.md`), json: join(dir, `c${n}.json`) },
        stages: {},
      });
    }
    const latest = await cli(['report', 'cli-report-1'], { role: 'viewer' });
    expect(latest.code).toBe(0);
    expect(latest.out).toContain('# Cycle 2');
    const first = await cli(['report', 'cli-report-1', '1', '--json'], { role: 'viewer' });
    expect(JSON.parse(first.out)).toEqual({ n: 1 });
    const bad = await cli(['report', 'cli-report-1', 'x'], { role: 'viewer' });
    expect(bad.code).toBe(1);
  });

  test('tokens: create prints the token once; list never does', async () => {
    const created = await cli(['tokens', 'create', 'ci-bot', '--role', 'operator'], { role: 'admin' });
    expect(created.code).toBe(0);
    const token = /glt_[a-f0-9]{16}_[a-f0-9]{64}/.exec(created.out)?.[0];
    expect(token).toBeDefined();
    const list = await cli(['tokens', 'list'], { role: 'admin' });
    expect(list.out).toContain('ci-bot');
    expect(list.out).not.toContain('glt_');
    const id = token?.slice(4, 20) as string;
    const revoked = await cli(['tokens', 'revoke', id], { role: 'admin' });
    expect(revoked.out).toContain('token ci-bot');
    const asOperator = await cli(['tokens', 'list']);
    expect(asOperator.code).toBe(1);
  });

  test('schedules: add, list, rm', async () => {
    const add = await cli(['schedules', 'add', 'staging', 'weekdays', '0 3 * * 1-5', '--tz', 'Europe/Berlin']);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toContain('schedule staging.weekdays created: "0 3 * * 1-5" in Europe/Berlin');
    const list = await cli(['schedules'], { role: 'viewer' });
    expect(list.out).toMatch(/staging\.weekdays\s+0 3 \* \* 1-5\s+Europe\/Berlin/);
    const bad = await cli(['schedules', 'add', 'staging', 'bad', '0 3 * *']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('expected 5 fields');
    expect((await cli(['schedules', 'rm', 'staging.weekdays'])).code).toBe(0);
  });

  test('no token, a bad URL, an unreachable API and bad usage all exit 1 with a message', async () => {
    const none = await cli(['status'], { role: 'none' });
    expect(none.code).toBe(1);
    expect(none.err).toContain('set GREENLOOP_API_TOKEN');
    const badUrl = await cli(['status'], { env: { GREENLOOP_URL: 'not a url' } });
    expect(badUrl.err).toContain('GREENLOOP_URL is not a URL');
    const down = await cli(['status'], { env: { GREENLOOP_URL: 'http://127.0.0.1:1' } });
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach the greenloop API at http://127.0.0.1:1');
    const usage = await cli(['start']);
    expect(usage.code).toBe(1);
    expect(usage.err).toContain('usage: greenloop start <environment>');
    const flag = await cli(['status', '--bogus']);
    expect(flag.code).toBe(1);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Exit codes');
  });
});

describe('projects and <project>/<environment>', () => {
  const ADD = ['projects', 'add', 'shop', '--remote', 'git@github.com:acme/shop.git', '--credentials-secret', 'SHOP_DEPLOY_KEY'];

  test('an admin adds, shows, lists, changes and removes a project; an operator may only read', async () => {
    const denied = await cli(ADD);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('this needs the admin role; token "test-operator" has the operator role (403 FORBIDDEN)');

    const add = await cli(ADD, { role: 'admin' });
    expect(add.code, add.err).toBe(0);
    expect(add.out).toMatch(/project shop\n {2}remote {14}git@github\.com:acme\/shop\.git\n {2}base branch {9}main\n {2}credentials secret {2}SHOP_DEPLOY_KEY/);
    expect(add.out).toContain('greenloop start shop/<environment>');

    const list = await cli(['projects'], { role: 'viewer' });
    expect(list.out).toMatch(
      /NAME\s+REMOTE\s+BASE BRANCH\s+CREDENTIALS SECRET\s+CREATED BY\nshop\s+git@github\.com:acme\/shop\.git\s+main\s+SHOP_DEPLOY_KEY\s+test-admin/,
    );
    const shown = JSON.parse((await cli(['projects', 'show', 'shop', '--json'], { role: 'viewer' })).out);
    expect(shown).toMatchObject({ name: 'shop', baseBranch: 'main', credentialsSecret: 'SHOP_DEPLOY_KEY' });

    const set = await cli(['projects', 'set', 'shop', '--base-branch', 'trunk', '--no-credentials-secret', '--json'], { role: 'admin' });
    expect(set.code, set.err).toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({ name: 'shop', baseBranch: 'trunk' });
    expect(JSON.parse(set.out)).not.toHaveProperty('credentialsSecret');

    const removed = await cli(['projects', 'remove', 'shop'], { role: 'admin' });
    expect(removed.out).toBe('project shop removed');
    const gone = await cli(['projects', 'show', 'shop'], { role: 'viewer' });
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('unknown project "shop"');
    expect((await cli(['projects', 'list'], { role: 'viewer' })).out).toContain('no projects');
  });

  test('refusals name the field; bad usage says how to call it', async () => {
    const leaky = await cli(['projects', 'add', 'shop', '--remote', 'https://bot:hunter2@github.com/acme/shop.git'], { role: 'admin' });
    expect(leaky.code).toBe(1);
    expect(leaky.err).toContain('invalid project: remote: must not carry credentials');
    expect(leaky.err).toContain('(400 PROJECT_INVALID)');
    expect(leaky.err).not.toContain('hunter2');
    const ownVar = await cli(['projects', 'add', 'shop', '--remote', '/srv/git/shop.git', '--credentials-secret', 'REDIS_URL'], { role: 'admin' });
    expect(ownVar.err).toContain("credentialsSecret: must not be one of greenloop's own variables");
    const noRemote = await cli(['projects', 'add', 'shop'], { role: 'admin' });
    expect(noRemote.err).toContain('--remote is required; usage: greenloop projects add <name> --remote <url>');
    const nothing = await cli(['projects', 'set', 'shop'], { role: 'admin' });
    expect(nothing.err).toContain('nothing to change');
  });

  test('start, status --env and watch with a long name; removing a project with a queued loop names it', async () => {
    expect((await cli(['projects', 'add', 'shop', '--remote', '/srv/git/shop.git'], { role: 'admin' })).code).toBe(0);
    const unknown = await cli(['start', 'billing/staging']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('unknown project "billing" (environment "billing/staging")');
    expect(unknown.err).toContain('(404 PROJECT_NOT_FOUND)');

    const started = await cli(['start', 'shop/staging']);
    expect(started.code, started.err).toBe(0);
    const id = /started loop ([a-z0-9-]+) on shop\/staging/.exec(started.out)?.[1] as string;
    expect(id).toBeDefined();
    await cli(['start', 'staging']);
    const list = await cli(['status', '--env', 'shop/staging'], { role: 'viewer' });
    expect(list.out).toContain(id);
    expect(list.out.split('\n').filter((l) => / (staging|shop\/staging) /.test(l))).toHaveLength(1);
    const one = await cli(['status', id], { role: 'viewer' });
    expect(one.out).toContain('environment  shop/staging');

    const schedule = await cli(['schedules', 'add', 'shop/staging', 'nightly', '0 3 * * *']);
    expect(schedule.out).toContain('schedule shop/staging.nightly created');
    expect((await cli(['schedules', '--env', 'shop/staging'], { role: 'viewer' })).out).toMatch(/shop\/staging\.nightly\s+0 3 \* \* \*/);
    expect((await cli(['schedules', 'rm', 'shop/staging.nightly'])).out).toBe('schedule shop/staging.nightly deleted');

    const busy = await cli(['projects', 'remove', 'shop'], { role: 'admin' });
    expect(busy.code).toBe(1);
    expect(busy.err).toContain(`project "shop" has 1 active loop(s): ${id} (shop/staging, queued)`);

    // watch follows the loop someone else started, and exits with its result (2: stopped, not green).
    const [watched] = await Promise.all([cli(['watch', id], { role: 'viewer' }), playLoop('shop/staging', 'stopped')]);
    expect(watched.code, watched.err).toBe(2);
    expect(watched.out).toContain(`watching loop ${id} on shop/staging`);
    expect(watched.out).toContain('cycle 1 · deploy  deploy succeeded: api ready');
    expect(watched.out).toContain(`loop ${id} stopped: reached 1 cycle`);
  });
});
