import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RecordingProxy, startRecordingProxy } from './recording-proxy.ts';
import { RequestRecorder, readRecordedRequests } from './request-record.ts';

let releaseBig: (() => void) | undefined;

/** A loopback service that answers with what it saw, serves a large streamed body, and echoes one WebSocket frame. */
async function startService(): Promise<{ url: string; seen: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let left = 159; // 10 MiB in all
      // The first chunk goes out at once; the rest only after the client has received it (releaseBig): a
      // proxy that buffered the response would never let the client see that first chunk.
      res.write(chunk);
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      return void new Promise<void>((r) => {
        releaseBig = r;
      }).then(pump);
    }
    if (req.url?.startsWith('/boom')) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end('internal');
    }
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen-host': req.headers.host ?? '' });
      res.end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  server.on('upgrade', (req, socket) => {
    seen.push(req.headers);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.once('data', (frame: Buffer) => {
      // One short masked client text frame → the same text back, unmasked, then a close frame.
      const len = (frame[1] as number) & 0x7f;
      const mask = frame.subarray(2, 6);
      const payload = Buffer.from(frame.subarray(6, 6 + len).map((b, i) => b ^ (mask[i % 4] as number)));
      socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
      socket.end(Buffer.from([0x88, 0]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('recording proxy', () => {
  let dir: string;
  let file: string;
  let recorder: RequestRecorder;
  let service: Awaited<ReturnType<typeof startService>>;
  let proxy: RecordingProxy | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gl-proxy-'));
    file = join(dir, 'requests.jsonl');
    recorder = new RequestRecorder(file);
    service = await startService();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function records() {
    await proxy?.close();
    proxy = undefined;
    await recorder.close();
    return readRecordedRequests(file);
  }

  it('forwards requests and bodies, rewrites Host, stamps a new trace, and records each exchange', async () => {
    proxy = await startRecordingProxy({ service: 'api', target: service.url, recorder });
    const res = await fetch(`${proxy.url}/items?token=secret`, {
      method: 'POST',
      body: 'hello',
      headers: { 'x-greenloop-test': encodeURIComponent('items › creates one'), 'x-greenloop-run-id': 'run-1' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ method: 'POST', url: '/items?token=secret', body: 'hello' });
    expect(res.headers.get('x-seen-host')).toBe(new URL(service.url).host);
    const boom = await fetch(`${proxy.url}/boom`);
    expect(boom.status).toBe(500);
    await boom.text();

    const headers = service.seen[0] as IncomingHttpHeaders;
    const [, traceId, spanId] = String(headers.traceparent).split('-');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(headers['x-cloud-trace-context']).toBe(`${traceId}/${BigInt(`0x${spanId}`)};o=1`);

    const [post, get] = await records();
    expect(post).toMatchObject({ service: 'api', method: 'POST', path: '/items', status: 200, traceId, test: 'items › creates one', runId: 'run-1' });
    expect(post?.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(post?.time ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(get).toMatchObject({ method: 'GET', path: '/boom', status: 500 });
    expect(get?.test).toBeUndefined();
    expect(get?.traceId).not.toBe(traceId);
  });

  it("keeps the suite's traceparent and derives one from the test name when the suite sends only that", async () => {
    proxy = await startRecordingProxy({
      service: 'api',
      target: service.url,
      recorder,
      deriveTraceId: (test) => (test === 't1' ? 'ab'.repeat(16) : undefined),
    });
    const suiteTrace = `00-${'12'.repeat(16)}-${'34'.repeat(8)}-01`;
    await (await fetch(`${proxy.url}/a`, { headers: { traceparent: suiteTrace } })).text();
    await (await fetch(`${proxy.url}/b`, { headers: { 'x-greenloop-test': 't1' } })).text();
    expect(service.seen[0]?.traceparent).toBe(suiteTrace);
    expect(String(service.seen[1]?.traceparent).split('-')[1]).toBe('ab'.repeat(16));
    const [a, b] = await records();
    expect(a?.traceId).toBe('12'.repeat(16));
    expect(b?.traceId).toBe('ab'.repeat(16));
  });

  it('answers 502 naming the cause when the service refuses, and records the error', async () => {
    const dead = service.url;
    await service.close();
    proxy = await startRecordingProxy({ service: 'api', target: dead, recorder });
    const res = await fetch(`${proxy.url}/health`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { cause: string }).cause).toMatch(/ECONNREFUSED/);
    const [r] = await records();
    expect(r).toMatchObject({ method: 'GET', path: '/health', status: 502 });
    expect(r?.error).toMatch(/ECONNREFUSED/);
    service = await startService(); // afterEach closes one
  });

  it('streams large bodies through without buffering them', async () => {
    proxy = await startRecordingProxy({ service: 'api', target: service.url, recorder });
    const res = await fetch(`${proxy.url}/big`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // The service holds back all but its first chunk until this client has read something.
    const first = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the proxy held the first chunk back')), 5000)),
    ]);
    let bytes = first.value?.byteLength ?? 0;
    releaseBig?.();
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.byteLength;
    expect(bytes).toBe(160 * 64 * 1024);
    const [r] = await records();
    expect(r).toMatchObject({ path: '/big', status: 200 });
  });

  it('keeps a path prefix of the target URL', async () => {
    proxy = await startRecordingProxy({ service: 'api', target: `${service.url}/v2/`, recorder });
    const body = (await (await fetch(`${proxy.url}/things`)).json()) as { url: string };
    expect(body.url).toBe('/v2/things');
    const [r] = await records();
    expect(r?.path).toBe('/things');
  });

  it('forwards WebSocket upgrades and records the connection', async () => {
    proxy = await startRecordingProxy({ service: 'chat', target: service.url, recorder });
    const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/socket`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send('ping');
      ws.onmessage = (m) => resolve(String(m.data));
      ws.onerror = () => reject(new Error('websocket error'));
    });
    expect(echoed).toBe('ping');
    await new Promise<void>((r) => {
      if (ws.readyState === WebSocket.CLOSED) r();
      else ws.onclose = () => r();
    });
    expect(service.seen[0]?.traceparent).toMatch(/^00-[0-9a-f]{32}-/);
    const [r] = await records();
    expect(r).toMatchObject({ service: 'chat', method: 'GET', path: '/socket', status: 101, ws: true });
  });
});

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)('recording proxy to a remote https service', () => {
  it('proxies to the https URL with its Host, as for a Cloud Run service', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-proxy-tls-'));
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'].concat([
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ]),
        { stdio: 'ignore' },
      );
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ host: req.headers.host, url: req.url, traceparent: req.headers.traceparent }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;
      const recorder = new RequestRecorder(join(dir, 'requests.jsonl'));
      const proxy = await startRecordingProxy({ service: 'api', target: `https://localhost:${port}`, recorder, ca: cert });
      try {
        const res = await fetch(`${proxy.url}/v1/items`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { host: string; url: string; traceparent: string };
        expect(body).toMatchObject({ host: `localhost:${port}`, url: '/v1/items' });
        expect(body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      } finally {
        await proxy.close();
        await recorder.close();
        server.close();
      }
      const [r] = await readRecordedRequests(join(dir, 'requests.jsonl'));
      expect(r).toMatchObject({ service: 'api', path: '/v1/items', status: 200 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
