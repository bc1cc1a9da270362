// End-to-end: evidence without instrumentation, across services. Two services that log in their own plain
// formats (Python `logging` with tracebacks, a Node front with its own line shape), a node --test suite that
// sends no greenloop headers, one loop through the real API and worker on real Redis, git and child processes.
// The front answers 502 because the back service throws; the back's traceback must reach the front failure's
// cluster and dossier — tied only by greenloop's recording proxy and time windows.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi } from '@greenloop/api';
import { createLogger, type LoopRecord, LoopStore, TERMINAL_STATES } from '@greenloop/core';
import { startWorker } from '@greenloop/worker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecordedRequests } from '../apps/worker/src/proxy/request-record.ts';
import { isolatedEnv } from './demo-harness.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'uninstrumented');

interface Evidence {
  service: string;
  severity: string;
  message: string;
  match: string;
  method?: string;
  path?: string;
  status?: number;
}
interface ClusterJson {
  fingerprint: string;
  tests: { name: string }[];
  evidence: Evidence[];
}

const python = (() => {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!python)('e2e: evidence for a service and suite greenloop did not instrument', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-uninstrumented-'));
  const repo = join(dir, 'repo');
  let loop: LoopRecord;
  let clusters: ClusterJson[];
  let dossiers: Map<string, string>;
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    cpSync(FIXTURE, repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@greenloop.local', ...args], { cwd: repo, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'front and back with a seeded bug');
    const { env, redisUrl, token, prefix } = isolatedEnv(dir, repo);
    const log = createLogger('e2e-uninstrumented', 'warn');
    const worker = await startWorker(env, log, redisUrl, { ...process.env });
    const api = await startApi(env, log, redisUrl);
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const store = new LoopStore(redis, prefix);
    close = async () => {
      await api.close();
      await worker.close();
      await store.clearAll();
      redis.disconnect();
    };

    const res = await fetch(`${api.url}/v1/loops`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ environment: 'staging' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const deadline = Date.now() + 100_000;
    for (;;) {
      const l = await store.getLoop(id);
      if (l && TERMINAL_STATES.includes(l.state) && (await store.activeLoop(l.environment)) !== id) {
        loop = l;
        break;
      }
      if (Date.now() > deadline) throw new Error(`loop did not finish: ${JSON.stringify(l)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
    const cycle = await store.getCycle(id, 1);
    const analyze = (await store.getStage(id, 1, 'analyze'))?.result;
    if (!cycle || !analyze) throw new Error(`cycle 1 was not analyzed: ${loop.stop?.rule} ${loop.stop?.message}`);
    clusters = Object.values(analyze.clusterFiles).map((f) => JSON.parse(readFileSync(f.json, 'utf8')) as ClusterJson);
    dossiers = new Map(Object.entries(analyze.clusterFiles).map(([fp, f]) => [fp, readFileSync(f.markdown, 'utf8')]));
  }, 120_000);

  afterAll(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  const clusterOf = (test: string) => {
    const c = clusters.find((x) => x.tests.some((t) => t.name === test));
    if (!c) throw new Error(`no cluster for "${test}": ${JSON.stringify(clusters.map((x) => x.tests))}`);
    return c;
  };

  it('records every request the suite made through the proxies', async () => {
    const requests = await readRecordedRequests(join(dir, 'home', 'artifacts', loop.id, 'cycle-1', 'test', 'requests.jsonl'));
    expect(requests.map((r) => `${r.service} ${r.method} ${r.path} ${r.status}`)).toEqual([
      'front GET /orders 200',
      'front GET /orders/7/total 502',
      'back GET /price/9 500',
    ]);
    for (const r of requests) expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(requests.every((r) => r.test === undefined)).toBe(true);
  });

  it("gives a failing test its request line and the service's own error with its traceback", () => {
    const c = clusterOf('price of an unknown order');
    expect(c.evidence).toContainEqual(expect.objectContaining({ service: 'back', match: 'request', method: 'GET', path: '/price/9', status: 500 }));
    const error = c.evidence.find((e) => e.service === 'back' && e.severity === 'ERROR' && e.match !== 'request');
    expect(error?.message).toContain('price lookup failed for /price/9');
    // The neighbour's failure (order 7, a KeyError) ran milliseconds apart: it must not leak in.
    expect(c.evidence.some((e) => e.message.includes('/price/7'))).toBe(false);
  });

  it("brings the back service's traceback to the front's 502 failure, in its cluster and its dossier", () => {
    const c = clusterOf('order total');
    expect(c.evidence).toContainEqual(expect.objectContaining({ service: 'front', match: 'request', path: '/orders/7/total', status: 502 }));
    const back = c.evidence.find((e) => e.service === 'back' && e.severity === 'ERROR');
    expect(back?.message).toContain('price lookup failed for /price/7');
    expect(c.evidence.some((e) => e.message.includes('/price/9'))).toBe(false);

    const dossier = dossiers.get(c.fingerprint) ?? '';
    expect(dossier).toContain('Server stack trace (back):');
    expect(dossier).toContain("KeyError: 'amount'");
    // "Code to look at" follows the Python frames into the back service's file, as a repository path.
    expect(dossier).toMatch(/- `back\/app\.py` — server stack trace: `price_of [^`]*app\.py:\d+`/);
  });
});
