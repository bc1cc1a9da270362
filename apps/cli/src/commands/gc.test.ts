// `greenloop gc` against real Redis, git and files: the retention pass by hand, dry run first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedLoop } from '@greenloop/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { demoHarness } from '../../../../test/demo-harness.ts';
import { runCli } from '../cli.ts';

describe('greenloop gc', () => {
  const h = demoHarness();
  afterAll(() => h.cleanup());
  const processEnv = {
    PATH: process.env.PATH,
    REDIS_URL: h.redisUrl,
    GREENLOOP_HOME: h.env.home,
    GREENLOOP_REPO: h.repo,
    GREENLOOP_PREFIX: h.env.GREENLOOP_PREFIX,
    GREENLOOP_RETENTION_DAYS: '7',
  };
  async function gc(...argv: string[]) {
    const out: string[] = [];
    const code = await runCli({
      argv: ['gc', ...argv],
      processEnv,
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      isTTY: false,
      signal: new AbortController().signal,
      cwd: h.dir,
    });
    return { code, out: out.join('\n') };
  }

  it('lists what a loop older than GREENLOOP_RETENTION_DAYS leaves (--dry-run), then removes it; a recent loop stays', async () => {
    await h.store.createLoop(finishedLoop('mgcold-00000001', 10));
    await h.store.createLoop(finishedLoop('mgcnew-00000002', 2));
    const artifacts = join(h.env.home, 'artifacts', 'mgcold-00000001', 'cycle-1');
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, 'report.md'), 'x'.repeat(2048));
    execFileSync('git', ['branch', 'greenloop-fix/mgcold-00000001/1/abcdef12'], { cwd: h.repo });

    const dry = await gc('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/greenloop gc \(dry run\): loops finished before .* \(7 days\)/);
    expect(dry.out).toMatch(/mgcold-00000001 {2}green {2}would remove 1 Redis keys \(.* KB\), 2\.0 KB of artifacts, 1 branch\(es\)/);
    expect(dry.out).not.toContain('mgcnew-00000002');
    expect(await h.store.getLoop('mgcold-00000001')).toBeDefined();

    const done = await gc('--json');
    expect(done.code).toBe(0);
    const report = JSON.parse(done.out) as { dryRun: boolean; loops: { id: string; branches: string[] }[] };
    expect(report.dryRun).toBe(false);
    expect(report.loops.map((l) => [l.id, l.branches])).toEqual([['mgcold-00000001', ['greenloop-fix/mgcold-00000001/1/abcdef12']]]);
    expect(await h.store.getLoop('mgcold-00000001')).toBeUndefined();
    expect(await h.store.getLoop('mgcnew-00000002')).toBeDefined();
    expect(existsSync(artifacts)).toBe(false);
    expect(execFileSync('git', ['branch', '--list', 'greenloop-fix/*'], { cwd: h.repo, encoding: 'utf8' })).toBe('');
  });
});
