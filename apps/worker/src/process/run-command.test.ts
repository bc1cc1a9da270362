import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, runCommand } from './run-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'gl-run-'));
const base = (name: string) => ({
  cwd: dir,
  env: { PATH: process.env.PATH ?? '' },
  stdoutFile: join(dir, `${name}.out`),
  stderrFile: join(dir, `${name}.err`),
});

describe('runCommand', () => {
  it('passes argv elements through untouched: no shell, no splitting', async () => {
    const r = await runCommand({
      ...base('argv'),
      argv: [process.execPath, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', 'a b', '$(whoami)', '; rm -rf /'],
      timeoutMs: 10_000,
    });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'argv.out'), 'utf8'))).toEqual(['a b', '$(whoami)', '; rm -rf /']);
  });

  it('kills the whole process group at the timeout, grandchildren included', async () => {
    let grandchild = 0;
    const script =
      "const { spawn } = require('node:child_process'); const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);";
    const r = await runCommand({
      ...base('hang'),
      argv: [process.execPath, '-e', script],
      timeoutMs: 500,
      onOutput: (chunk) => {
        grandchild = Number(chunk.toString().trim());
      },
    });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(grandchild).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 300));
    expect(isAlive(grandchild)).toBe(false);
  });

  it('caps output and says how much was dropped', async () => {
    const r = await runCommand({
      ...base('cap'),
      argv: [process.execPath, '-e', "process.stdout.write('x'.repeat(10000))"],
      timeoutMs: 10_000,
      outputLimit: 1000,
    });
    expect(r.truncatedBytes).toBe(9000);
    const out = readFileSync(join(dir, 'cap.out'), 'utf8');
    expect(out.startsWith('x'.repeat(1000))).toBe(true);
    expect(out).toContain('9000 more bytes not kept');
  });

  it('names a program that cannot be started', async () => {
    await expect(runCommand({ ...base('missing'), argv: ['definitely-not-a-program-xyz'], timeoutMs: 1000 })).rejects.toThrow(
      /could not start "definitely-not-a-program-xyz": ENOENT/,
    );
  });

  it('stops on abort', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = await runCommand({ ...base('abort'), argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], timeoutMs: 10_000, signal: ac.signal });
    expect(r.cancelled).toBe(true);
    expect(r.timedOut).toBe(false);
  });
});
