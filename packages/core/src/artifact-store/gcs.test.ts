import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addKnownSecrets, clearKnownSecrets } from '../redact.ts';
import { FakeGcs } from './fake-gcs.ts';
import { GcsArtifactStore } from './gcs.ts';

// Through the real @google-cloud/storage client, pointed at a fake of the JSON API on loopback.
describe('GcsArtifactStore against a fake Cloud Storage JSON API', () => {
  let fake: FakeGcs;
  let dir: string;
  let store: GcsArtifactStore;
  const loop = 'loop-abc123';
  const big = randomBytes(700 * 1024); // 3 chunks of 256 KiB: two 308s, then the object

  beforeAll(async () => {
    fake = await new FakeGcs('gl-bucket').start();
  });
  afterAll(async () => {
    await fake.stop();
  });
  beforeEach(async () => {
    fake.reset();
    dir = await mkdtemp(join(tmpdir(), 'gl-gcs-'));
    await mkdir(join(dir, 'cycle-1', 'test'), { recursive: true });
    await writeFile(join(dir, 'cycle-1', 'report.md'), '# report\n');
    await writeFile(join(dir, 'cycle-1', 'test', 'stdout.log'), 'ok 1\n');
    await writeFile(join(dir, 'cycle-1', 'test', 'junit.xml'), big);
    store = new GcsArtifactStore({
      bucket: 'gl-bucket',
      prefix: 'gl/',
      apiEndpoint: fake.endpoint,
      // The resumable upload's retry library waits at least 1 s; the others honour the cap.
      retry: { maxRetryDelay: 1, retryDelayMultiplier: 1.1 },
      resumableThreshold: 512 * 1024,
      chunkSize: 256 * 1024,
      pageSize: 2,
    });
  });
  afterEach(async () => {
    clearKnownSecrets();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes a loop (simple and chunked resumable uploads), then only what changed', async () => {
    const first = await store.syncLoop(loop, dir);
    expect(first).toMatchObject({ uploaded: 3, unchanged: 0, bytes: 9 + 5 + big.length, refused: [] });
    expect(fake.objects.get('gl/loop-abc123/cycle-1/report.md')?.data.toString()).toBe('# report\n');
    expect(fake.objects.get('gl/loop-abc123/cycle-1/test/junit.xml')?.data.equals(big)).toBe(true);
    expect(fake.calls('upload')).toHaveLength(2);
    expect(fake.calls('resumable-start')).toHaveLength(1);
    expect(fake.calls('chunk').map((r) => r.status)).toEqual([308, 308, 200]);
    expect(Math.max(...fake.calls('chunk').map((r) => r.bodyBytes))).toBeLessThanOrEqual(256 * 1024);
    // The list went page by page (pageSize 2).
    expect(fake.calls('list').length).toBeGreaterThanOrEqual(1);

    fake.requests.length = 0;
    expect(await store.syncLoop(loop, dir)).toMatchObject({ uploaded: 0, unchanged: 3 });
    expect(fake.calls('upload')).toHaveLength(0);

    await writeFile(join(dir, 'cycle-1', 'report.md'), '# report, longer now\n');
    await utimes(join(dir, 'cycle-1', 'report.md'), new Date(), new Date(Date.now() + 5000));
    expect(await store.syncLoop(loop, dir)).toMatchObject({ uploaded: 1, unchanged: 2 });
    expect(fake.objects.get('gl/loop-abc123/cycle-1/report.md')?.data.toString()).toBe('# report, longer now\n');
  });

  it('lists directories over several pages, stats and streams files, and says when something is missing', async () => {
    await store.syncLoop(loop, dir);
    expect(await store.list(loop, '')).toEqual([{ name: 'cycle-1', type: 'dir' }]);
    expect(await store.list(loop, 'cycle-1/test/')).toEqual([
      { name: 'junit.xml', type: 'file', size: big.length },
      { name: 'stdout.log', type: 'file', size: 5 },
    ]);
    expect(await store.list(loop, 'cycle-1')).toEqual([
      { name: 'report.md', type: 'file', size: 9 },
      { name: 'test', type: 'dir' },
    ]);
    expect(await store.list(loop, 'cycle-9')).toBeUndefined();
    expect(await store.stat(loop, 'cycle-1/report.md')).toEqual({ size: 9 });
    expect(await store.stat(loop, 'cycle-1/nope.md')).toBeUndefined();
    expect(await store.stat(loop, 'cycle-1')).toBeUndefined();
    expect(await text(await store.read(loop, './cycle-1//report.md'))).toBe('# report\n');
    const bytes = Buffer.concat(await (await store.read(loop, 'cycle-1/test/junit.xml')).toArray());
    expect(bytes.equals(big)).toBe(true);
    await expect(store.read(loop, 'cycle-1/gone.txt')).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    // Ranged reads (a log's tail) through the client: the fake answers 206 with just those bytes.
    const [part] = await store.storage.bucket('gl-bucket').file(`gl/${loop}/cycle-1/test/junit.xml`).download({ start: 10, end: 1033, validation: false });
    expect(part.equals(big.subarray(10, 1034))).toBe(true);
    expect(fake.calls('download').at(-1)?.status).toBe(206);
    // Another loop's objects are not this loop's.
    expect(await store.list('loop-other', '')).toBeUndefined();
  });

  it('rides out 429 and 503 answers on every kind of call (the client retries)', async () => {
    fake.fail('list', 503);
    fake.fail('upload', 429);
    fake.fail('chunk', 503);
    fake.fail('resumable-start', 503);
    expect(await store.syncLoop(loop, dir)).toMatchObject({ uploaded: 3 });
    expect(fake.objects.get('gl/loop-abc123/cycle-1/test/junit.xml')?.data.equals(big)).toBe(true);
    expect(fake.requests.filter((r) => r.status === 503 || r.status === 429)).toHaveLength(4);

    fake.fail('download', 503, 2);
    fake.fail('metadata', 429);
    expect(await store.stat(loop, 'cycle-1/test/stdout.log')).toEqual({ size: 5 });
    expect(await text(await store.read(loop, 'cycle-1/test/stdout.log'))).toBe('ok 1\n');
    expect(fake.calls('download').map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up with a clear, classified error when the bucket refuses or is missing', async () => {
    fake.fail('list', 403);
    await expect(store.syncLoop(loop, dir)).rejects.toMatchObject({ code: 'ARTIFACT_STORE_PERMISSION_DENIED', retryable: false });
    const wrong = new GcsArtifactStore({ bucket: 'no-such-bucket', apiEndpoint: fake.endpoint });
    await expect(wrong.syncLoop(loop, dir)).rejects.toMatchObject({ code: 'ARTIFACT_STORE_NOT_FOUND' });
    fake.fail('list', 503, 50);
    const impatient = new GcsArtifactStore({ bucket: 'gl-bucket', apiEndpoint: fake.endpoint, retry: { maxRetries: 1, maxRetryDelay: 0.05 } });
    await expect(impatient.syncLoop(loop, dir)).rejects.toMatchObject({ code: 'ARTIFACT_STORE_FAILED', retryable: true });
  });

  it('keeps every key inside the loop prefix and never puts a known secret in an object name', async () => {
    for (const bad of ['../loop-other/x', 'cycle-1/../../x', '/etc/passwd', 'a\0b', 'c:\\x', 'a\\..\\b'])
      await expect(store.stat(loop, bad)).rejects.toMatchObject({ code: 'ARTIFACT_PATH_NOT_ALLOWED' });
    await expect(store.list('../other', '')).rejects.toMatchObject({ code: 'ARTIFACT_PATH_NOT_ALLOWED' });
    addKnownSecrets(['s3cr3t-t0ken-value-123']);
    await writeFile(join(dir, 'cycle-1', 'dump-s3cr3t-t0ken-value-123.txt'), 'x');
    const r = await store.syncLoop(loop, dir);
    expect(r.refused).toHaveLength(1);
    expect(r.refused[0]).not.toContain('s3cr3t');
    expect([...fake.objects.keys()].some((k) => k.includes('s3cr3t'))).toBe(false);
    // Custom metadata holds the mtime only.
    for (const o of fake.objects.values()) expect(Object.keys(o.metadata)).toEqual(['greenloop-mtime']);
  });

  it('deletes a loop (every page of it), counting objects and bytes; a dry run only counts', async () => {
    await store.syncLoop(loop, dir);
    await store.syncLoop('loop-keep01', dir);
    expect(await store.deleteLoop(loop, { dryRun: true })).toEqual({ objects: 3, bytes: 14 + big.length });
    expect(fake.objects.size).toBe(6);
    fake.fail('delete', 503);
    expect(await store.deleteLoop(loop)).toEqual({ objects: 3, bytes: 14 + big.length });
    expect([...fake.objects.keys()].every((k) => k.startsWith('gl/loop-keep01/'))).toBe(true);
    expect(await store.deleteLoop(loop)).toEqual({ objects: 0, bytes: 0 });
  });
});
