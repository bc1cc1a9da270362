// Attack suite (runs in CI): a hostile fixer and a hostile test suite try to read greenloop's environment,
// write the user's repository (working tree, .git/hooks, .git/config), read another loop's artifacts,
// reach Redis, plant git hooks/config for greenloop's own git calls, and leave a daemon running. Real
// bubblewrap, real git, real processes, a real API. Prints `attempt | blocked? | how` and asserts every
// row blocked, except a suite reaching a Redis on this host that runs commands without a password: that
// row says NO, and the test checks that greenloop's start-up check finds that very Redis out (a warning,
// or a refusal under GREENLOOP_REDIS_AUTH=require). A control run with `sandbox: off` shows the same
// attacks succeeding (minting a token too, with the secret read from greenloop's environment), so the
// checks can fail.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkRedisAuth, createLogger, type FixResult, GreenloopError, redisAuthState } from '@greenloop/core';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRepo, type TestRepo, testCluster } from '../apps/worker/src/fix/testing.ts';
import { probeSandbox } from '../apps/worker/src/process/sandbox.ts';
import type { DriverInput } from './fixtures/attack/driver.ts';

const HOSTILE = join(import.meta.dirname, 'fixtures', 'attack', 'hostile.mjs');
const DRIVER = join(import.meta.dirname, 'fixtures', 'attack', 'driver.ts');
const probe = await probeSandbox();
const TESTS_REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const OPEN_REDIS_FLAG =
  "this host's Redis runs commands without a password: greenloop logs redis.unauthenticated at start-up, doctor flags it, GREENLOOP_REDIS_AUTH=require refuses it";
if (!probe.available) console.warn(`attack-sandbox: SKIPPED, bubblewrap cannot run here: ${probe.detail}`);

// greenloop's secrets, in the environment of the process that plays greenloop (the driver).
const CANARIES = {
  GREENLOOP_API_TOKEN: `canary-admin-token-${Math.random().toString(36).slice(2)}`,
  GREENLOOP_TOKEN_SECRET: `canary-token-secret-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`,
  REDIS_URL: `redis://:canary-redis-pw-${Math.random().toString(36).slice(2)}@127.0.0.1:6379`,
  SLACK_WEBHOOK_URL: `https://hooks.slack.com/services/T0/B0/canary${Math.random().toString(36).slice(2)}`,
};
const OTHER_LOOP_SECRET = `other-loop-evidence-${Math.random().toString(36).slice(2)}`;

interface Attempt {
  attempt: string;
  got: boolean;
  detail: string;
}
interface Row {
  role: 'fixer' | 'test';
  network: 'host' | 'none';
  attempt: string;
  blocked: boolean;
  how: string;
  /** A gap greenloop knows and says at start-up (an open Redis on this host): reported as NO, not asserted. */
  flagged?: string;
}
interface Outcome {
  fix: FixResult;
  fixerOutput: string;
  test: { sandboxed: boolean; exitCode: number | null };
  testOutput: string;
  indexFiles: number;
  fixBranch?: string;
  /** Whether the driver could start greenloop's embedded (password-protected) Redis (needs redis-server). */
  embeddedRedis: boolean;
}

interface Scene {
  t: TestRepo;
  input: DriverInput;
  outcome: Outcome;
  configBefore: string;
}

/** A greenloop home with two loops, the user's repository, and one driver run under `mode`. */
async function attack(mode: 'on' | 'off', network: 'host' | 'none'): Promise<Scene> {
  const t = await makeRepo('loop-a');
  const home = join(t.root, 'home');
  const markers = join(t.root, 'markers');
  const other = join(home, 'artifacts', 'loop-b', 'cycle-1', 'test');
  await mkdir(markers, { recursive: true });
  await mkdir(other, { recursive: true });
  await writeFile(join(other, 'stdout.txt'), `${OTHER_LOOP_SECRET}\n`);
  const evidence = join(home, 'artifacts', 'loop-a', 'cycle-1', 'analyze');
  await mkdir(evidence, { recursive: true });
  await writeFile(join(evidence, 'dossier.md'), '# fix it\n');
  await writeFile(join(evidence, 'cluster.json'), JSON.stringify(testCluster('ffffff1')));
  const testArtifacts = join(home, 'artifacts', 'loop-a', 'cycle-1', 'test');
  await mkdir(testArtifacts, { recursive: true });
  const input: DriverInput = {
    mode,
    network,
    home,
    repo: t.repo,
    base: t.base,
    hostile: HOSTILE,
    markers,
    otherArtifact: join(other, 'stdout.txt'),
    daemonTag: `greenloop-attack-daemon-${Math.random().toString(36).slice(2)}`,
    promptFile: join(evidence, 'dossier.md'),
    clusterFile: join(evidence, 'cluster.json'),
    testWorktree: join(home, 'worktrees', 'loop-a', 'deploy-c1'),
    testArtifacts,
    apiRedisUrl: TESTS_REDIS,
    prefix: `glattack-${Math.random().toString(36).slice(2, 10)}`,
    out: join(t.root, 'outcome.json'),
  };
  const configBefore = readFileSync(join(t.repo, '.git', 'config'), 'utf8');
  await writeFile(join(t.root, 'input.json'), JSON.stringify(input));
  execFileSync(process.execPath, [DRIVER, join(t.root, 'input.json')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...CANARIES },
    stdio: 'inherit',
    timeout: 90_000,
  });
  const outcome = JSON.parse(readFileSync(input.out, 'utf8')) as Outcome;
  return { t, input, outcome, configBefore };
}

function attempts(output: string): Attempt[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Attempt);
}

function daemonAlive(tag: string): boolean {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(tag)) return true;
    } catch {}
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const leaked = (text: string) => Object.values(CANARIES).some((c) => text.includes(c)) || text.includes(OTHER_LOOP_SECRET);

/** The table rows for one role: the script's own report checked against the effects seen from outside. */
async function judge(scene: Scene, role: 'fixer' | 'test', network: 'host' | 'none'): Promise<Row[]> {
  const { t, input, outcome } = scene;
  const report = attempts(role === 'fixer' ? outcome.fixerOutput : outcome.testOutput);
  const find = (name: string) =>
    report.find((a) => a.attempt === name) ?? { attempt: name, got: false, detail: 'attempt did not report (the script did not run?)' };
  const git = (...args: string[]) => execFileSync('git', ['-C', t.repo, ...args], { encoding: 'utf8' });
  const rows: Row[] = [];
  const row = (attempt: string, blocked: boolean, how: string, flagged?: string) =>
    rows.push({ role, network, attempt, blocked, how, ...(flagged ? { flagged } : {}) });

  for (const name of ['read /proc/$PPID/environ', 'scan /proc/*/environ']) {
    const a = find(name);
    row(name, !leaked(a.detail), a.got ? `read, but no greenloop secret in it (${a.detail.split('\n')[0]?.slice(0, 60)})` : a.detail);
  }
  const wt = find('write the user repo working tree');
  row(wt.attempt, !existsSync(join(t.repo, 'PWNED.txt')) && git('status', '--porcelain').trim() === '', wt.detail);
  const hook = find('write <repo>/.git/hooks/post-checkout');
  row(hook.attempt, !existsSync(join(t.repo, '.git', 'hooks', 'post-checkout')) && !existsSync(join(input.markers, 'user-hook-ran')), hook.detail);
  const cfg = find('write <repo>/.git/config');
  row(cfg.attempt, readFileSync(join(t.repo, '.git', 'config'), 'utf8') === scene.configBefore, cfg.detail);
  const other = find("read another loop's artifacts");
  row(other.attempt, !leaked(other.detail), other.detail);
  const redis = find('connect to Redis 127.0.0.1:6379 and PING');
  row(redis.attempt, !redis.got, redis.detail, redis.got ? OPEN_REDIS_FLAG : undefined);
  const mint = find('mint an admin token (write Redis, call the API)');
  row(mint.attempt, !mint.got, mint.detail);
  if (outcome.embeddedRedis) {
    const embedded = find("connect to greenloop's embedded Redis and PING");
    row(embedded.attempt, !embedded.got, embedded.detail);
    const password = find("read the embedded Redis's password file");
    row(password.attempt, !password.got, password.detail);
  }
  const daemon = find('leave a setsid daemon running');
  let alive = daemonAlive(input.daemonTag);
  for (let i = 0; i < 20 && alive; i++) {
    await sleep(100);
    alive = daemonAlive(input.daemonTag);
  }
  row(
    daemon.attempt,
    daemon.got ? !alive : true,
    daemon.got ? (alive ? 'the daemon is still running' : 'ended with the sandbox (pid namespace torn down)') : daemon.detail,
  );
  if (role === 'fixer') {
    const plant = find("plant hooks/fsmonitor/filter in the clone's .git");
    const ran = ['clone-hook-ran', 'clone-fsmonitor-ran', 'clone-filter-ran'].filter((m) => existsSync(join(input.markers, m)));
    row(
      'greenloop runs git on a .git the fixer planted',
      ran.length === 0 && outcome.fix.outcome === 'accepted',
      ran.length ? `ran: ${ran.join(', ')}` : `planted ${plant.got ? 'yes' : 'no'}; fix read from files only, ${outcome.fix.outcome}; nothing ran`,
    );
  } else {
    const redirect = find('redirect the worktree .git to a planted gitdir');
    row(
      'redirect the worktree .git (dossier git ls-files)',
      !existsSync(join(input.markers, 'worktree-fsmonitor-ran')) && outcome.indexFiles > 0,
      redirect.got ? 'redirected, but greenloop ran nothing of it' : redirect.detail,
    );
  }
  return rows;
}

const table: Row[] = [];
afterAll(() => {
  if (table.length === 0) return;
  const lines = table.map(
    (r) =>
      `${`${r.role} (network ${r.network})`.padEnd(22)} | ${r.attempt.padEnd(52)} | ${(r.blocked ? 'yes' : 'NO').padEnd(8)} | ${r.how.replace(/\s+/g, ' ').slice(0, 150)}${r.flagged ? ` [flagged: ${r.flagged}]` : ''}`,
  );
  console.log(`\nattack table (sandbox on):\n${'role'.padEnd(22)} | ${'attempt'.padEnd(52)} | blocked? | how\n${lines.join('\n')}\n`);
});

/**
 * What every sandboxed run must show: each attempt reported (the scripts really ran in the sandbox) and
 * blocked, except reaching a password-less Redis on this host over the host network — flagged, and then
 * the start-up check must find that very Redis out — while minting a token through it still fails.
 */
async function expectBlocked(scene: Scene, rows: Row[]): Promise<void> {
  expect(scene.outcome.fix.sandboxed).toBe(true);
  expect(scene.outcome.test.sandboxed).toBe(true);
  expect(rows.filter((r) => r.how.includes('did not report'))).toEqual([]);
  expect(rows.filter((r) => !r.blocked && !r.flagged)).toEqual([]);
  if (rows.some((r) => r.flagged)) {
    const silent = createLogger('attack', 'silent');
    expect(await checkRedisAuth('redis://127.0.0.1:6379', silent, 'warn')).toBe('open');
    await expect(checkRedisAuth('redis://127.0.0.1:6379', silent, 'require')).rejects.toBeInstanceOf(GreenloopError);
  }
  // Writing Redis is not enough to mint a token: whoever could write it (host network), the API said 401.
  if ((await redisAuthState(TESTS_REDIS)) === 'open')
    for (const mint of rows.filter((r) => r.network === 'host' && r.attempt.startsWith('mint')))
      expect(mint.how, `${mint.role}: ${mint.attempt}`).toMatch(/^Redis write answered: \+OK :1;.*: 401$/);
  // The accepted fix came back as a commit on the fix branch, read from the clone's files.
  expect(scene.outcome.fix.outcome).toBe('accepted');
  expect(scene.outcome.fixBranch).toBe(scene.outcome.fix.commit);
}

describe.skipIf(!probe.available)('attack suite: hostile fixer and hostile test suite in the sandbox', () => {
  it('blocks every attempt of a fixer with network none and of a test suite (network host)', { timeout: 120_000 }, async () => {
    const scene = await attack('on', 'none');
    try {
      const rows = [...(await judge(scene, 'fixer', 'none')), ...(await judge(scene, 'test', 'host'))];
      table.push(...rows);
      await expectBlocked(scene, rows);
    } finally {
      await scene.t.cleanup();
    }
  });

  it('a fixer with network host (the default) is held the same way', { timeout: 120_000 }, async () => {
    const scene = await attack('on', 'host');
    try {
      const rows = await judge(scene, 'fixer', 'host');
      table.push(...rows);
      await expectBlocked(scene, rows);
    } finally {
      await scene.t.cleanup();
    }
  });

  it('control: with sandbox off the same attacks succeed (the checks above can fail)', { timeout: 120_000 }, async () => {
    const scene = await attack('off', 'host');
    try {
      expect(scene.outcome.fix.sandboxed).toBe(false);
      const rows = [...(await judge(scene, 'fixer', 'host')), ...(await judge(scene, 'test', 'host'))];
      const notBlocked = rows.filter((r) => !r.blocked).map((r) => `${r.role}: ${r.attempt}`);
      if (scene.outcome.embeddedRedis) expect(notBlocked).toContain("fixer: read the embedded Redis's password file");
      // Unsandboxed, the token secret is in greenloop's environment: a record written with it is a token.
      if ((await redisAuthState(TESTS_REDIS)) === 'open') expect(notBlocked).toContain('fixer: mint an admin token (write Redis, call the API)');
      expect(notBlocked).toEqual(
        expect.arrayContaining([
          'fixer: read /proc/$PPID/environ',
          'fixer: write the user repo working tree',
          'fixer: write <repo>/.git/hooks/post-checkout',
          'fixer: write <repo>/.git/config',
          "fixer: read another loop's artifacts",
          'fixer: leave a setsid daemon running',
        ]),
      );
    } finally {
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(scene.input.daemonTag)) process.kill(Number(pid), 'SIGKILL');
        } catch {}
      }
      await scene.t.cleanup();
    }
  });
});
