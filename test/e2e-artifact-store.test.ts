// End-to-end: a demo loop (two cycles) with evidence in Cloud Storage — the worker publishes through the
// real @google-cloud/storage client to a fake JSON API, and the API serves reports and artifacts from the
// bucket after the worker's own copy is gone (as for an API on another machine).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeGcs } from '@greenloop/core/fake-gcs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHarness, type Harness, type Stack, startStack } from './demo-harness.ts';

describe('e2e: evidence in Cloud Storage', () => {
  let h: Harness;
  let fake: FakeGcs;
  let stack: Stack | undefined;

  beforeAll(async () => {
    fake = await new FakeGcs('gl-e2e').start();
    h = demoHarness({ GREENLOOP_ARTIFACTS: 'gcs', GREENLOOP_ARTIFACTS_BUCKET: 'gl-e2e', GREENLOOP_ARTIFACTS_ENDPOINT: fake.endpoint });
    // Two cycles are enough: every kind of stage (fixes in the first) publishes, then maxCycles stops it.
    const yaml = join(h.repo, 'greenloop.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('maxCycles: 6', 'maxCycles: 2'));
    execFileSync('git', ['commit', '-qam', 'two cycles'], { cwd: h.repo });
    stack = await startStack(h);
  });
  afterAll(async () => {
    await stack?.close();
    await h?.cleanup();
    await fake?.stop();
  });

  it('publishes every stage’s evidence and serves it from the bucket', { timeout: 120_000 }, async () => {
    const { apiUrl, auth } = stack!;
    const id = await stack!.startLoop('demo');
    // Meanwhile the worker registry shows the jobs this worker runs.
    let busiest = 0;
    const watching = setInterval(() => {
      void fetch(`${apiUrl}/v1/workers`, { headers: auth })
        .then((r) => r.json() as Promise<{ workers: { jobs: unknown[] }[] }>)
        .then((b) => {
          busiest = Math.max(busiest, b.workers[0]?.jobs.length ?? 0);
        })
        .catch(() => undefined);
    }, 200);
    const loop = await h.waitForEnd(id, 110_000).finally(() => clearInterval(watching));
    expect(busiest, 'jobs seen running in GET /v1/workers').toBeGreaterThan(0);
    expect(loop.cycle).toBe(2);

    const names = [...fake.objects.keys()];
    const under = (p: string) => names.filter((n) => n.startsWith(`greenloop/${id}/cycle-1/${p}`));
    expect(under('deploy/api.log')).toHaveLength(1);
    expect(under('test/junit.xml')).toHaveLength(1);
    expect(under('analyze/report.md')).toHaveLength(1);
    expect(under('fix/').length, 'the fixers’ prompts and diffs').toBeGreaterThan(0);
    expect(names.some((n) => n.startsWith(`greenloop/${id}/cycle-2/analyze/report.json`))).toBe(true);
    // What the bucket holds is byte for byte what the worker wrote.
    const local = join(h.env.home, 'artifacts', id);
    for (const rel of ['cycle-1/analyze/report.json', 'cycle-1/test/junit.xml', 'cycle-2/analyze/report.md'])
      expect(fake.objects.get(`greenloop/${id}/${rel}`)?.data.equals(readFileSync(join(local, rel))), rel).toBe(true);

    // The worker's disk no longer has it: the API answers from the bucket alone.
    rmSync(join(h.env.home, 'artifacts', id), { recursive: true, force: true });
    const md = await fetch(`${apiUrl}/v1/loops/${id}/cycles/1/report`, { headers: { ...auth, accept: 'text/markdown' } });
    expect(md.status).toBe(200);
    expect(await md.text()).toMatch(/404|403|1011/);
    const listing = (await (await fetch(`${apiUrl}/v1/loops/${id}/artifacts/cycle-1`, { headers: auth })).json()) as { entries: { name: string }[] };
    expect(listing.entries.map((e) => e.name)).toEqual(expect.arrayContaining(['analyze', 'deploy', 'fix', 'test']));
    const junit = await fetch(`${apiUrl}/v1/loops/${id}/artifacts/cycle-1/test/junit.xml`, { headers: auth });
    expect(junit.status).toBe(200);
    expect(await junit.text()).toContain('<testsuite');
    // One worker, publishing to the bucket, and no job left listed once the loop is over (the controller
    // waiting for its children included).
    await expect
      .poll(
        async () => ((await (await fetch(`${apiUrl}/v1/workers`, { headers: auth })).json()) as { workers: { artifacts: string; jobs: unknown[] }[] }).workers,
        {
          timeout: 5000,
        },
      )
      .toEqual([expect.objectContaining({ artifacts: 'gs://gl-e2e/greenloop/', jobs: [] })]);
  });
});
