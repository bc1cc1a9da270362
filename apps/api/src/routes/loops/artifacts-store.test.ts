import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeGcs } from '@greenloop/core/fake-gcs';
import { GcsArtifactStore } from '@greenloop/core/gcs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runningLoop, setupTestApi, type TestApi } from '../../testing.ts';

// The API reading evidence from Cloud Storage (the real client against a fake JSON API): the files are
// published from a directory the API never sees, as a worker on another machine would.
describe('artifacts and reports served from a Cloud Storage artifact store', () => {
  let t: TestApi;
  let fake: FakeGcs;
  let workerDir: string;
  let base: URL;
  const L = 'loop-gcs-1';

  beforeAll(async () => {
    fake = await new FakeGcs('gl-art').start();
    const store = new GcsArtifactStore({ bucket: 'gl-art', prefix: 'p', apiEndpoint: fake.endpoint, retry: { maxRetryDelay: 0.05, maxRetries: 2 } });
    t = await setupTestApi({ deps: { artifacts: store } });
    workerDir = mkdtempSync(join(tmpdir(), 'gl-worker-home-'));
    const dir = join(workerDir, 'artifacts', L);
    mkdirSync(join(dir, 'cycle-1', 'junit'), { recursive: true });
    writeFileSync(join(dir, 'cycle-1', 'junit', 'results.xml'), '<testsuites/>');
    writeFileSync(join(dir, 'cycle-1', 'leaky.log'), 'GET /x Authorization: Bearer abcdefgh12345678\n');
    writeFileSync(join(dir, 'cycle-1', 'blob.bin'), Buffer.from([0, 1, 2, 3]));
    writeFileSync(join(dir, 'cycle-1', 'report.md'), '# Cycle 1\ntoken=s3cr3t-value-here\n');
    const reportJson = { cycle: 1, evidenceFiles: { stdout: join(dir, 'cycle-1', 'leaky.log'), stderr: '/etc/passwd', junit: ['junit/results.xml'] } };
    writeFileSync(join(dir, 'cycle-1', 'report.json'), JSON.stringify(reportJson));
    await store.syncLoop(L, dir);
    await t.store.createLoop(runningLoop(L));
    await t.store.saveCycle({
      loopId: L,
      n: 1,
      commit: 'c1',
      startedAt: new Date().toISOString(),
      stages: {},
      report: { markdown: join(dir, 'cycle-1', 'report.md'), json: join(dir, 'cycle-1', 'report.json') },
    });
    base = new URL(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });

  afterAll(async () => {
    await t.cleanup();
    await fake.stop();
    rmSync(workerDir, { recursive: true, force: true });
  });

  const get = (path: string, role: 'viewer' | 'admin' = 'viewer', accept?: string) =>
    t.app.inject({ method: 'GET', url: `/v1/loops/${L}/${path}`, headers: { ...t.auth(role), ...(accept ? { accept } : {}) } });

  test('lists directories and serves files: redacted text to viewers, raw streams to admins', async () => {
    const root = await get('artifacts/');
    expect(root.statusCode).toBe(200);
    expect(root.json()).toEqual({ path: '', entries: [{ name: 'cycle-1', type: 'dir' }] });
    const c1 = await get('artifacts/cycle-1');
    expect(c1.json().entries.map((e: { name: string }) => e.name)).toEqual(['blob.bin', 'junit', 'leaky.log', 'report.json', 'report.md']);
    const xml = await get('artifacts/cycle-1/junit/results.xml');
    expect(xml.statusCode).toBe(200);
    expect(xml.headers['content-type']).toContain('application/xml');
    expect(xml.body).toBe('<testsuites/>');
    const leaky = await get('artifacts/cycle-1/leaky.log');
    expect(leaky.body).not.toContain('abcdefgh12345678');
    const raw = await get('artifacts/cycle-1/leaky.log', 'admin');
    expect(raw.body).toContain('abcdefgh12345678');
    expect(raw.headers['content-length']).toBe(String(raw.body.length));
    expect((await get('artifacts/cycle-1/blob.bin')).statusCode).toBe(403);
    expect((await get('artifacts/cycle-1/blob.bin', 'admin')).rawPayload).toEqual(Buffer.from([0, 1, 2, 3]));
  });

  test('missing paths are 404, paths that leave the loop are 400 (over a real socket, unnormalized)', async () => {
    expect((await get('artifacts/cycle-9/x.log')).json().code).toBe('ARTIFACT_NOT_FOUND');
    for (const p of ['../loop-other/x', 'cycle-1/..%2F..%2Fx', '%2e%2e/x']) {
      const res = await new Promise<number>((resolve, reject) => {
        const req = request({ host: base.hostname, port: base.port, path: `/v1/loops/${L}/artifacts/${p}`, headers: t.auth('viewer') }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(res, p).toBe(400);
    }
  });

  test('the cycle report is read from the store, whichever machine wrote it', async () => {
    const md = await get('cycles/1/report', 'viewer', 'text/markdown');
    expect(md.statusCode).toBe(200);
    expect(md.body).toContain('# Cycle 1');
    expect(md.body).not.toContain('s3cr3t-value-here');
    expect((await get('cycles/1/report', 'viewer', 'application/json')).json()).toMatchObject({ cycle: 1 });
  });

  test("the evidence a report names links into the bucket's artifacts, and nothing outside the loop", async () => {
    const res = await get('cycles/1/evidence');
    expect(res.statusCode).toBe(200);
    expect(res.json().files).toEqual([
      { label: 'report.json', path: 'cycle-1/report.json', href: `/v1/loops/${L}/artifacts/cycle-1/report.json` },
      { label: 'test stdout', path: 'cycle-1/leaky.log', href: `/v1/loops/${L}/artifacts/cycle-1/leaky.log` },
      { label: 'JUnit results.xml', path: 'cycle-1/junit/results.xml', href: `/v1/loops/${L}/artifacts/cycle-1/junit/results.xml` },
    ]);
    expect((await get(res.json().files[2].href.replace(`/v1/loops/${L}/`, ''))).body).toBe('<testsuites/>');
  });

  test('a store that keeps failing is a 503 that says so', async () => {
    fake.fail('metadata', 503, 10);
    const res = await get('artifacts/cycle-1/leaky.log');
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('ARTIFACT_STORE_UNAVAILABLE');
  });
});
