import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeployedService } from '@greenloop/core';
import { expect, it } from 'vitest';
import { traceIdFor } from '../analysis/correlate.ts';
import { readRecordedRequests } from './request-record.ts';
import { startServiceProxies } from './service-proxies.ts';

async function service(name: string): Promise<{ svc: DeployedService; server: http.Server }> {
  const server = http.createServer((req, res) => res.end(`${name} ${req.headers.traceparent}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, svc: { service: name, provider: 'local', url, revision: `local-${name}`, readyAt: new Date().toISOString() } };
}

it('puts one proxy before each service, records them in one file, and stops them when the scope ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gl-proxies-'));
  const file = join(dir, 'requests.jsonl');
  const front = await service('front');
  const back = await service('back');
  let urls: Record<string, string> = {};
  try {
    {
      await using proxies = await startServiceProxies([front.svc, back.svc], file, 'run-1');
      urls = proxies.urls;
      expect(Object.keys(urls)).toEqual(['front', 'back']);
      expect(urls.front).not.toBe(front.svc.url);
      expect(await (await fetch(`${urls.front}/a`)).text()).toMatch(/^front 00-/);
      // A suite that names its test but sends no trace context gets the trace id greenloop derives for it.
      const named = await (await fetch(`${urls.back}/b`, { headers: { 'x-greenloop-test': 'suite > t' } })).text();
      expect(named).toContain(traceIdFor('run-1', 'suite > t'));
    }
    await expect(fetch(`${urls.front}/a`)).rejects.toThrow();
    const records = await readRecordedRequests(file);
    expect(records.map((r) => `${r.service} ${r.path}`)).toEqual(['front /a', 'back /b']);
  } finally {
    front.server.close();
    back.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
