import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceSchema } from '@greenloop/core';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupAlive } from '../process/run-command.ts';
import { probeSandbox } from '../process/sandbox.ts';
import { LocalProvider } from './local.ts';

const bwrap = await probeSandbox();
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'greenloop-local-sandbox-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function running(tag: string): boolean {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(tag);
      } catch {
        return false;
      }
    });
}

describe.skipIf(!bwrap.available)('local services in the sandbox', () => {
  it('starts a sandboxed service on loopback with its log captured; stop ends it and a setsid daemon it left', { timeout: 30_000 }, async () => {
    const worktree = join(root, 'home', 'worktrees', 'loop-a', 'deploy-c1');
    const cycleDir = join(root, 'home', 'artifacts', 'loop-a', 'cycle-1');
    const secret = join(root, 'home', 'greenloop-secret.txt');
    await mkdir(worktree, { recursive: true });
    await mkdir(join(cycleDir, 'deploy'), { recursive: true });
    await writeFile(secret, 'not for services\n');
    const tag = `greenloop-service-daemon-${Math.random().toString(36).slice(2)}`;
    await writeFile(
      join(worktree, 'server.mjs'),
      `import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ${JSON.stringify(tag)}], { detached: true, stdio: 'ignore' }).unref();
console.log('sees greenloop home:', existsSync(${JSON.stringify(secret)}));
createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`,
    );
    const provider = new LocalProvider({ pathVar: process.env.PATH ?? '/usr/bin:/bin', homeVar: process.env.HOME ?? '/tmp' });
    const service = ServiceSchema.parse({ name: 'api', healthPath: '/', deploy: { provider: 'local', command: ['node', 'server.mjs'], readyTimeout: '15s' } });
    const log = pino({ level: 'silent' });
    const deployed = await provider.deploy({
      loopId: 'loop-a',
      cycle: 1,
      commit: 'a'.repeat(40),
      service,
      worktree,
      cycleDir,
      sandbox: { mode: 'on', hide: [join(root, 'home')] },
      signal: new AbortController().signal,
      log,
      progress: () => {},
    });
    expect(deployed.sandboxed).toBe(true);
    expect(await (await fetch(deployed.url)).text()).toBe('ok');
    const logText = await readFile(deployed.logFile ?? '', 'utf8');
    expect(logText).toContain('listening');
    expect(logText).toContain('sees greenloop home: false');
    expect(running(tag)).toBe(true);

    await provider.stop(deployed, log);
    // The service ignores SIGTERM: stop() escalates to SIGKILL on the group, which reaches the sandbox's
    // pid 1; init reaps what that leaves asynchronously.
    for (let i = 0; i < 30 && (running(tag) || groupAlive(deployed.pid ?? 0)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(running(tag)).toBe(false);
    expect(groupAlive(deployed.pid ?? 0)).toBe(false);
    await expect(fetch(deployed.url)).rejects.toThrow();
  });
});
