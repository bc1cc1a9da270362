import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GreenloopError, type LoopSource } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { du } from '../disk-usage.ts';
import { gitHttpServer, memoryLogger } from '../fix/testing.ts';
import { errorOf } from '../test-support/error-of.ts';
import { Mirrors, mirrorPath } from './mirror.ts';

const sh = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();
const TOKEN = 'ghs_mirror-test-token-0123456789abcdef';

describe('project mirrors', () => {
  let dir: string;
  let home: string;
  let running: Set<string>;

  /** A bare "remote" `<dir>/remotes/<name>.git` with a `main` holding one file of `bytes` random bytes; its head. */
  const remote = (name: string, bytes = 16): { path: string; head: string } => {
    const work = join(dir, 'work', name);
    mkdirSync(work, { recursive: true });
    sh(work, 'init', '-q', '-b', 'main');
    writeFileSync(join(work, 'data.bin'), execFileSync('head', ['-c', String(bytes), '/dev/urandom']));
    sh(work, 'add', '-A');
    sh(work, 'commit', '-qm', 'one');
    const path = join(dir, 'remotes', `${name}.git`);
    sh(dir, 'clone', '-q', '--bare', work, path);
    return { path, head: sh(work, 'rev-parse', 'HEAD') };
  };
  const source = (project: string, remotePath: string, over: Partial<LoopSource> = {}): LoopSource => ({
    project,
    remote: remotePath,
    baseBranch: 'main',
    ...over,
  });
  const mirrors = (over: { maxBytes?: number; processEnv?: Record<string, string> } = {}) => {
    const { log, lines } = memoryLogger();
    const m = new Mirrors({ home, maxBytes: over.maxBytes ?? 1e9, processEnv: over.processEnv ?? {}, log, isRunning: async (id) => running.has(id) });
    return { m, lines };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gl-mirror-'));
    home = join(dir, 'home');
    running = new Set();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("fetches the remote's base branch, and a later fetch brings new commits but never prunes the loop's own branches", async () => {
    const r = remote('shop');
    const { m } = mirrors();
    const first = await m.fetch(source('shop', r.path), 'l1');
    expect(first).toEqual({ repo: mirrorPath(home, 'shop'), base: r.head });
    expect(sh(first.repo, 'rev-parse', '--is-bare-repository')).toBe('true');
    // What a loop keeps in the mirror: its branch, made at the base.
    sh(first.repo, 'branch', 'greenloop/l1', first.base);

    // The remote moves on and drops a branch: the fetch follows both, and the loop branch stays.
    sh(r.path, 'branch', 'doomed', 'main');
    await m.fetch(source('shop', r.path), 'l1');
    expect(sh(first.repo, 'branch', '-r')).toContain('origin/doomed');
    const work = join(dir, 'work', 'shop');
    writeFileSync(join(work, 'more.txt'), 'two\n');
    sh(work, 'add', '-A');
    sh(work, 'commit', '-qm', 'two');
    sh(work, 'push', '-q', r.path, 'main');
    sh(r.path, 'branch', '-D', 'doomed');
    const second = await m.fetch(source('shop', r.path), 'l2');
    expect(second.base).toBe(sh(work, 'rev-parse', 'HEAD'));
    expect(sh(first.repo, 'branch', '-r')).not.toContain('origin/doomed');
    expect(sh(first.repo, 'rev-parse', 'greenloop/l1')).toBe(r.head);
    // Nothing about the remote is written into the mirror's config.
    expect(readFileSync(join(first.repo, 'config'), 'utf8')).not.toContain(r.path);
  });

  it('opens the mirror for a job without fetching, and fetches when it lacks a commit the job needs', async () => {
    const r = remote('shop');
    const { m, lines } = mirrors();
    const repo = await m.open(source('shop', r.path), 'l1');
    expect(sh(repo, 'rev-parse', 'origin/main')).toBe(r.head);
    const fetched = () => lines.filter((l) => l.includes('project mirror fetched')).length;
    expect(fetched()).toBe(1);
    await m.open(source('shop', r.path), 'l1', r.head);
    expect(fetched()).toBe(1);
    // A cycle commit pushed by another worker: fetched on demand.
    const work = join(dir, 'work', 'shop');
    writeFileSync(join(work, 'fix.txt'), 'fix\n');
    sh(work, 'add', '-A');
    sh(work, 'commit', '-qm', 'fix');
    sh(work, 'push', '-q', r.path, 'HEAD:refs/heads/greenloop/l1');
    const pushed = sh(work, 'rev-parse', 'HEAD');
    await m.open(source('shop', r.path), 'l1', pushed);
    expect(fetched()).toBe(2);
    const missing = await errorOf(m.open(source('shop', r.path), 'l1', 'f'.repeat(40)));
    expect(missing).toMatchObject({ code: 'SOURCE_COMMIT_MISSING' });
  });

  it('lets one fetch at a time into a mirror when loops of one project begin together', async () => {
    const r = remote('shop');
    const root = join(dir, 'http');
    mkdirSync(root);
    sh(dir, 'clone', '-q', '--bare', r.path, join(root, 'shop.git'));
    // Each request is held 150 ms: fetches that ran side by side would overlap on the server.
    const server = await gitHttpServer(root, TOKEN, { delayMs: 150 });
    try {
      const { m } = mirrors({ processEnv: { SHOP_TOKEN: TOKEN } });
      const src = source('shop', `${server.url}/shop.git`, { credentialsSecret: 'SHOP_TOKEN' });
      const fetched = await Promise.all(['l1', 'l2', 'l3'].map((id) => m.fetch(src, id)));
      expect(fetched.map((f) => f.base)).toEqual([r.head, r.head, r.head]);
      // Three fetches' worth of requests, never two at once.
      expect(server.requests.length).toBeGreaterThanOrEqual(6);
      expect(server.maxInFlight()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('fetches over https with the token only in git’s environment: never in argv, the URL, the mirror, logs or errors', async () => {
    const r = remote('shop');
    const root = join(dir, 'http');
    mkdirSync(root);
    sh(dir, 'clone', '-q', '--bare', r.path, join(root, 'shop.git'));
    const server = await gitHttpServer(root, TOKEN, { delayMs: 300 });
    try {
      const { m, lines } = mirrors({ processEnv: { SHOP_TOKEN: TOKEN, WRONG_TOKEN: 'ghs_wrong-token-9876543210' } });
      const url = `${server.url}/shop.git`;
      // Every process's argv while the fetch runs (the server holds each request, so git is there to see).
      const argvs = new Set<string>();
      let done = false;
      const watch = (async () => {
        while (!done) {
          for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
            try {
              argvs.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
            } catch {}
          }
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      const fetched = await m.fetch(source('shop', url, { credentialsSecret: 'SHOP_TOKEN' }), 'l1').finally(() => {
        done = true;
      });
      await watch;
      expect(fetched.base).toBe(r.head);
      const gitArgvs = [...argvs].filter((a) => a.includes(url));
      expect(gitArgvs.length, 'git was seen fetching').toBeGreaterThan(0);
      for (const a of argvs) expect(a).not.toContain(TOKEN);
      for (const req of server.requests) {
        expect(req.authorization).toBe(`Bearer ${TOKEN}`);
        expect(req.url).not.toContain(TOKEN);
      }
      // Nor stored anywhere in the mirror (grep exits 1 when no file has it).
      expect(() => execFileSync('grep', ['-rlF', TOKEN, fetched.repo])).toThrow();

      const refused = await errorOf(m.fetch(source('shop', url, { credentialsSecret: 'WRONG_TOKEN' }), 'l2'));
      expect(refused).toMatchObject({ code: 'SOURCE_FETCH_FAILED' });
      expect((refused as GreenloopError).hint).toContain('the remote refused the credentials in WRONG_TOKEN');
      expect(`${refused.message} ${(refused as GreenloopError).hint}`).not.toContain('ghs_wrong-token');
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join('\n')).not.toContain(TOKEN);
    } finally {
      await server.close();
    }
  });

  it('evicts least recently used mirrors over the bound, never one a running loop uses', async () => {
    const big = 200_000; // random bytes: incompressible, so each mirror is at least this big
    const a = remote('a', big);
    const b = remote('b', big);
    const c = remote('c', big);
    const d = remote('d', big);
    const { m, lines } = mirrors({ maxBytes: 2.5 * big });
    running.add('la');
    await m.fetch(source('a', a.path), 'la');
    await m.fetch(source('b', b.path), 'lb');
    // Nobody runs lb any more; a third mirror does not fit: b (not a, older but running) goes.
    await m.fetch(source('c', c.path), 'lc');
    expect(existsSync(mirrorPath(home, 'a'))).toBe(true);
    expect(existsSync(mirrorPath(home, 'b'))).toBe(false);
    expect(existsSync(mirrorPath(home, 'c'))).toBe(true);
    expect(await du(m.root)).toBeLessThanOrEqual(2.5 * big);
    // a's loop ended (on some worker): now a is the least recently used one that can go.
    running.delete('la');
    running.add('lc');
    await m.fetch(source('d', d.path), 'ld');
    expect(existsSync(mirrorPath(home, 'a'))).toBe(false);
    expect(existsSync(mirrorPath(home, 'c'))).toBe(true);
    expect(existsSync(mirrorPath(home, 'd'))).toBe(true);
    expect(lines.join('\n')).toContain('evicted least recently used project mirrors');
    // A project evicted earlier comes back with the next loop of it.
    expect((await m.fetch(source('b', b.path), 'lb2')).base).toBe(b.head);
  });

  it('stops with SOURCE_FETCH_FAILED and a hint for an unreachable remote, an unknown base branch, or unset credentials', async () => {
    const r = remote('shop');
    const { m } = mirrors();
    const unreachable = await errorOf(m.fetch(source('shop', join(dir, 'no-such.git')), 'l1'));
    expect(unreachable).toBeInstanceOf(GreenloopError);
    expect(unreachable).toMatchObject({ code: 'SOURCE_FETCH_FAILED', retryable: false });
    expect(unreachable.message).toContain(`could not fetch ${join(dir, 'no-such.git')} (project shop)`);
    expect((unreachable as GreenloopError).hint).toBe("check the project's remote URL");
    // Nothing was fetched: no empty mirror is left behind.
    expect(existsSync(mirrorPath(home, 'shop'))).toBe(false);

    const branch = await errorOf(m.fetch(source('shop', r.path, { baseBranch: 'release' }), 'l2'));
    expect(branch).toMatchObject({ code: 'SOURCE_FETCH_FAILED', message: `branch release does not exist on ${r.path} (project shop)` });

    const unset = await errorOf(m.fetch(source('shop', r.path, { credentialsSecret: 'SHOP_TOKEN' }), 'l3'));
    expect(unset).toMatchObject({ code: 'SOURCE_FETCH_FAILED' });
    expect(unset.message).toContain("SHOP_TOKEN (the project's credentialsSecret) is not set in this worker's environment");
  });
});
