import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GreenloopError } from '@greenloop/core';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from './run-command.ts';
import { bwrapArgv, confine, probeSandbox, type SandboxSpec } from './sandbox.ts';

const root = mkdtempSync(join(tmpdir(), 'gl-sandbox-'));
const home = join(root, 'home');
const repo = join(root, 'repo');
const checkout = join(home, 'worktrees', 'loop-a', 'deploy-c1');
for (const d of [checkout, join(repo, '.git'), join(home, 'artifacts', 'loop-b')]) mkdirSync(d, { recursive: true });
writeFileSync(join(checkout, '.git'), `gitdir: ${repo}/.git/worktrees/deploy-c1\n`);
writeFileSync(join(home, 'artifacts', 'loop-b', 'secret.txt'), 'other loop\n');

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent-home' };
const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  kind: 'test',
  argv: [process.execPath, '-e', '0'],
  cwd: checkout,
  env,
  network: 'host',
  writable: [checkout],
  ...over,
});
const places = { hide: [home, repo] };

/** The `--flag a b` triples of an argv, as "flag a b" strings, in order. */
function mounts(argv: string[], flag: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === flag) out.push(flag === '--tmpfs' || flag === '--remount-ro' ? (argv[i + 1] as string) : `${argv[i + 1]} -> ${argv[i + 2]}`);
  });
  return out;
}

describe('bwrapArgv', () => {
  it('hides greenloop places read-only after binding what the command needs, with exactly the env given', () => {
    const argv = bwrapArgv(spec({ readable: [join(home, 'artifacts', 'loop-a')] }), places);
    expect(argv.slice(0, 7)).toEqual([
      'bwrap',
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      '--die-with-parent',
    ]);
    expect(argv).not.toContain('--unshare-net');
    const tmpfs = mounts(argv, '--tmpfs');
    expect(tmpfs).toEqual(expect.arrayContaining(['/tmp', '/run', home, repo]));
    // The repository and home are each their own read-only tmpfs even though /tmp (scratch) holds them.
    expect(mounts(argv, '--remount-ro')).toEqual(expect.arrayContaining([home, repo, '/run']));
    expect(mounts(argv, '--remount-ro')).not.toContain('/tmp');
    expect(argv.lastIndexOf('--tmpfs')).toBeLessThan(argv.indexOf('--bind'));
    expect(argv.indexOf('--remount-ro')).toBeGreaterThan(argv.lastIndexOf('--bind'));
    expect(mounts(argv, '--bind')).toEqual([`${checkout} -> ${checkout}`]);
    // The worktree's pointer into the repository stays read-only on top of the writable checkout.
    expect(mounts(argv, '--ro-bind')).toContain(`${checkout}/.git -> ${checkout}/.git`);
    expect(argv.slice(argv.indexOf('--clearenv'), argv.indexOf('--'))).toEqual(['--clearenv', ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v])]);
    expect(argv.slice(argv.indexOf('--') + 1)).toEqual([process.execPath, '-e', '0']);
  });

  it("README's Security model lists every flag bwrapArgv uses", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Security model'), readme.indexOf('\n## ', readme.indexOf('## Security model') + 1));
    const flags = new Set(
      [
        bwrapArgv(spec({ kind: 'fixer', network: 'none', readable: [join(home, 'artifacts', 'loop-a')] }), places),
        bwrapArgv(spec({ kind: 'service', outliveParent: true }), places),
      ].flatMap((argv) => argv.filter((a) => a.startsWith('--') && a !== '--')),
    );
    expect(flags.size).toBeGreaterThan(10);
    expect([...flags].filter((f) => !section.includes(f))).toEqual([]);
  });

  it('exposes tools on PATH under a hidden place read-only, never the hidden place itself', () => {
    const tools = join(home, 'tools');
    const userBin = join(root, 'user', 'bin');
    for (const d of [join(tools, 'bin'), userBin]) mkdirSync(d, { recursive: true });
    const argv = bwrapArgv(spec({ env: { ...env, PATH: `${join(tools, 'bin')}:${userBin}:/usr/bin` } }), { ...places, scratch: [join(root, 'user')] });
    const ro = mounts(argv, '--ro-bind');
    expect(ro).toContain(`${tools} -> ${tools}`);
    // ~/bin's prefix would be ~ itself: only the bin directory comes back.
    expect(ro).toContain(`${userBin} -> ${userBin}`);
    expect(ro.filter((m) => m.startsWith(`${join(root, 'user')} `))).toEqual([]);
  });

  it('cuts the network for network: none and keeps a service alive past its parent', () => {
    const fixer = bwrapArgv(spec({ kind: 'fixer', network: 'none' }), places);
    expect(fixer).toContain('--unshare-net');
    const service = bwrapArgv(spec({ kind: 'service', outliveParent: true }), places);
    expect(service).not.toContain('--die-with-parent');
    expect(service).not.toContain('--new-session');
  });
});

describe('confine', () => {
  it('runs the command as it is under sandbox: off', async () => {
    expect(await confine(spec(), { mode: 'off', hide: [] })).toEqual({ argv: [process.execPath, '-e', '0'], sandboxed: false });
  });

  it('without bubblewrap: auto runs tests unsandboxed with a warning, refuses fixers and verify; on refuses everything', async () => {
    const missing = { hide: [], bwrap: join(root, 'no-such-bwrap') };
    const test = await confine(spec(), { ...missing, mode: 'auto' });
    expect(test.sandboxed).toBe(false);
    expect(test.warning).toContain('unsandboxed');
    for (const kind of ['fixer', 'verify'] as const) {
      await expect(confine(spec({ kind }), { ...missing, mode: 'auto' })).rejects.toMatchObject({ code: 'SANDBOX_REQUIRED' });
    }
    await expect(confine(spec(), { ...missing, mode: 'on' })).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });

  it('reports a missing program as runCommand does', async () => {
    const err = await confine(spec({ argv: ['greenloop-no-such-program'] }), { mode: 'on', hide: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GreenloopError);
    expect(err).toMatchObject({ code: 'COMMAND_NOT_STARTED' });
  });
});

const bwrap = await probeSandbox();
describe.skipIf(!bwrap.available)('runCommand in the sandbox (real bubblewrap)', () => {
  const server = createServer((_req, res) => res.end('host'));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sees its own processes only, none of greenloop places, and loopback services only with network host', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const probe = `const fs = require('node:fs');
const seen = { pids: fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).length, ownPid: process.pid,
  otherLoop: fs.existsSync(${JSON.stringify(join(home, 'artifacts', 'loop-b', 'secret.txt'))}), repo: fs.readdirSync(${JSON.stringify(repo)}).length };
try { fs.writeFileSync(${JSON.stringify(join(repo, 'x'))}, 'x'); seen.repoWritable = true; } catch { seen.repoWritable = false; }
fs.writeFileSync('written.txt', 'ok');
fetch('http://127.0.0.1:${port}/').then((r) => r.text(), (e) => 'unreachable').then((web) => console.log(JSON.stringify({ ...seen, web })));`;
    const results: Record<string, unknown>[] = [];
    for (const network of ['host', 'none'] as const) {
      const out = join(root, `probe-${network}.out`);
      const r = await runCommand({
        argv: [process.execPath, '-e', probe],
        cwd: checkout,
        env,
        timeoutMs: 20_000,
        stdoutFile: out,
        stderrFile: join(root, `probe-${network}.err`),
        sandbox: { settings: { mode: 'on', ...places }, kind: 'test', network, writable: [checkout] },
      });
      expect(r.sandboxed).toBe(true);
      expect(r.exitCode).toBe(0);
      results.push(JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>);
    }
    const [host, none] = results;
    expect(host).toMatchObject({ otherLoop: false, repo: 0, repoWritable: false, web: 'host' });
    expect(none).toMatchObject({ web: 'unreachable' });
    // A fresh /proc: a handful of processes (bwrap's init and the command), not the host's.
    expect(host?.pids).toBeLessThan(5);
    expect(host?.ownPid).toBeLessThan(5);
    expect(readFileSync(join(checkout, 'written.txt'), 'utf8')).toBe('ok');
  });
});
