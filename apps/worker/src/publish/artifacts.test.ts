// Publishing evidence to Cloud Storage (the real client, a fake JSON API) and pruning it again.
import { mkdirSync, writeFileSync } from 'node:fs';
import { FakeGcs } from '@greenloop/core/fake-gcs';
import { GcsArtifactStore } from '@greenloop/core/gcs';
import { finishedLoop } from '@greenloop/core/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHarness } from '../../../../test/demo-harness.ts';
import { loopPaths } from '../paths.ts';
import { pruneFinishedLoops } from '../retention.ts';
import { publishArtifacts } from './artifacts.ts';

describe('publishing a loop’s evidence to the artifact store', () => {
  const h = demoHarness();
  let fake: FakeGcs;
  let artifacts: GcsArtifactStore;
  const log = pino({ level: 'silent' });
  beforeAll(async () => {
    fake = await new FakeGcs('gl-pub').start();
    artifacts = new GcsArtifactStore({ bucket: 'gl-pub', prefix: 'gl', apiEndpoint: fake.endpoint, retry: { maxRetries: 1, maxRetryDelay: 0.05 } });
  });
  afterAll(async () => {
    await fake.stop();
    await h.cleanup();
  });
  const ctx = () => ({ artifacts, env: h.env, log, store: h.store });

  it('sends what a stage wrote when it ends, only the new files the next time, and says so in the events when the store fails', async () => {
    const id = 'loop-pub-1';
    const paths = loopPaths(h.env.home, id);
    mkdirSync(paths.cycleDir(1), { recursive: true });
    writeFileSync(`${paths.cycleDir(1)}/deploy.log`, 'deployed\n');
    await publishArtifacts(ctx(), id, 1, 'deploy');
    expect([...fake.objects.keys()]).toEqual(['gl/loop-pub-1/cycle-1/deploy.log']);

    writeFileSync(`${paths.cycleDir(1)}/junit.xml`, '<testsuites/>');
    fake.requests.length = 0;
    await publishArtifacts(ctx(), id, 1, 'test');
    expect(fake.calls('upload').map((r) => r.query.name)).toEqual(['gl/loop-pub-1/cycle-1/junit.xml']);

    // A store that is down does not fail the stage: the event says so, and the next call catches up.
    writeFileSync(`${paths.cycleDir(1)}/report.md`, '# r\n');
    fake.fail('list', 503, 2); // the first try and its one retry
    await publishArtifacts(ctx(), id, 1, 'analyze');
    const events = await h.store.redis.xrange(h.store.key('events', id), '-', '+');
    expect(JSON.stringify(events)).toContain('artifacts not published yet after analyze');
    await publishArtifacts(ctx(), id, 1, 'the loop ended');
    expect(fake.objects.has('gl/loop-pub-1/cycle-1/report.md')).toBe(true);
  });

  it('retention deletes the loop’s objects with its records (a dry run only counts them)', async () => {
    const id = 'loop-pub-old';
    await h.store.createLoop(finishedLoop(id, 40));
    const paths = loopPaths(h.env.home, id);
    mkdirSync(paths.cycleDir(1), { recursive: true });
    writeFileSync(`${paths.cycleDir(1)}/a.log`, 'aaaa');
    await publishArtifacts(ctx(), id, 1, 'test');
    const opts = { store: h.store, artifacts, repo: h.repo, home: h.env.home, retentionMs: 30 * 86_400_000 };
    const dry = await pruneFinishedLoops({ ...opts, dryRun: true });
    expect(dry.loops.find((l) => l.id === id)).toMatchObject({ storeObjects: 1, storeBytes: 4 });
    expect(fake.objects.has(`gl/${id}/cycle-1/a.log`)).toBe(true);
    await pruneFinishedLoops(opts);
    expect([...fake.objects.keys()].some((k) => k.startsWith(`gl/${id}/`))).toBe(false);
    expect(await h.store.getLoop(id)).toBeUndefined();
  });
});
