// Issue 12's API hardening, each against a real listening API where the behaviour is about sockets:
// per-token event-stream slots, failed-auth budgets per address and over all, HEAD on event streams,
// slow requests cut off, reserved token names, audit actors with token ids.
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runningLoop, setupTestApi, type TestApi } from './testing.ts';

const LOOP = 'hard-1';

async function seed(t: TestApi): Promise<void> {
  await t.store.createLoop(runningLoop(LOOP));
}

/** Opens an event stream and resolves with its response once headers arrive (the body keeps flowing). */
function openStream(base: URL, path: string, authorization: string): Promise<{ res: IncomingMessage; req: ClientRequest; body: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path, headers: { authorization } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      const ended = new Promise<string>((r) => res.on('end', () => r(text)));
      resolve({ res, req, body: () => ended });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('event streams', () => {
  let t: TestApi;
  let base: URL;
  beforeAll(async () => {
    t = await setupTestApi({ deps: { sse: { maxPerToken: 3, maxClients: 50, heartbeatMs: 60_000 } } });
    await seed(t);
    base = new URL(await t.app.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => {
    await t.cleanup();
  });

  test('one token cannot hold every slot: its 4th stream is 429 TOO_MANY_STREAMS_FOR_TOKEN, others still get theirs', async () => {
    const viewer = `Bearer ${t.token.viewer}`;
    const open = [];
    for (let i = 0; i < 3; i++) {
      const s = await openStream(base, '/v1/events', viewer);
      expect(s.res.statusCode).toBe(200);
      open.push(s);
    }
    const fourth = await openStream(base, `/v1/loops/${LOOP}/events`, viewer);
    expect(fourth.res.statusCode).toBe(429);
    expect(JSON.parse(await fourth.body())).toMatchObject({ code: 'TOO_MANY_STREAMS_FOR_TOKEN' });
    const other = await openStream(base, '/v1/events', `Bearer ${t.token.operator}`);
    expect(other.res.statusCode).toBe(200);
    open.push(other);
    // A closed stream gives its slot back.
    open[0]?.req.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await openStream(base, '/v1/events', viewer);
    expect(again.res.statusCode).toBe(200);
    open.push(again);
    for (const s of open) s.req.destroy();
  });

  test('HEAD on both event streams answers at once with the headers and no body', async () => {
    for (const url of ['/v1/events', `/v1/loops/${LOOP}/events`]) {
      const started = Date.now();
      const res = await t.app.inject({ method: 'HEAD', url, headers: t.auth('viewer') });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.body).toBe('');
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  test('HEAD takes no stream slot', async () => {
    // The first test's streams are released as their sockets close on the server side.
    for (let i = 0; i < 50 && t.app.eventStreams.slots.open > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const before = t.app.eventStreams.slots.open;
    expect(before).toBe(0);
    await t.app.inject({ method: 'HEAD', url: '/v1/events', headers: t.auth('viewer') });
    expect(t.app.eventStreams.slots.open).toBe(before);
  });
});

describe('failed-auth budgets', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await setupTestApi({ deps: { authFailures: { perAddress: 5, total: 12 } } });
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const bad = (ip: string) =>
    t.app.inject({ method: 'GET', url: '/v1/loops', headers: { authorization: `Bearer glt_0123456789abcdef_${'0'.repeat(64)}` }, remoteAddress: ip });

  test('per address: one address over its budget is refused, another is not', async () => {
    for (let i = 0; i < 5; i++) expect((await bad('10.0.0.1')).statusCode).toBe(401);
    expect((await bad('10.0.0.1')).statusCode).toBe(429);
    expect((await bad('10.0.0.2')).statusCode).toBe(401);
  });

  test('over all addresses: rotating addresses hits the global ceiling; verified tokens still pass', async () => {
    // Verified (kept) before the flood.
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops', headers: t.auth('viewer') })).statusCode).toBe(200);
    const codes: number[] = [];
    for (let i = 3; i < 20; i++) codes.push((await bad(`10.0.1.${i}`)).statusCode);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
    expect((await bad('10.9.9.9')).statusCode).toBe(429);
    expect((await t.app.inject({ method: 'GET', url: '/v1/loops', headers: t.auth('viewer') })).statusCode).toBe(200);
  });
});

describe('trustProxy', () => {
  test('with GREENLOOP_TRUST_PROXY the budget key is the forwarded client, so one client behind the proxy does not lock out the rest', async () => {
    const t = await setupTestApi();
    const { buildApp } = await import('./app.ts');
    const env = { ...t.env, GREENLOOP_TRUST_PROXY: '127.0.0.1' as string | boolean | number };
    const app = buildApp({
      env,
      store: t.store,
      queues: t.queues,
      tokens: t.tokens,
      nearCache: t.app.nearCache,
      config: async () => {
        throw new Error('unused');
      },
      rateLimit: false,
      docs: false,
      adminQueues: false,
      authFailures: { perAddress: 3, total: 1000 },
    });
    try {
      const bad = (client: string) =>
        app.inject({
          method: 'GET',
          url: '/v1/loops',
          headers: { authorization: `Bearer glt_0123456789abcdef_${'1'.repeat(64)}`, 'x-forwarded-for': client },
          remoteAddress: '127.0.0.1',
        });
      for (let i = 0; i < 3; i++) expect((await bad('203.0.113.7')).statusCode).toBe(401);
      expect((await bad('203.0.113.7')).statusCode).toBe(429);
      expect((await bad('198.51.100.4')).statusCode).toBe(401);
    } finally {
      await app.close();
      await t.cleanup();
    }
  });
});

describe('slow requests', () => {
  let t: TestApi;
  let base: URL;
  beforeAll(async () => {
    t = await setupTestApi();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  test('an authenticated request whose body never finishes is cut off', async () => {
    const { buildApp } = await import('./app.ts');
    // Tight for the test: the defaults are 30 s (whole request) and 120 s (idle).
    const env = { ...t.env, GREENLOOP_REQUEST_TIMEOUT: 1500, GREENLOOP_CONNECTION_TIMEOUT: 60_000 };
    const app = buildApp({
      env,
      store: t.store,
      queues: t.queues,
      tokens: t.tokens,
      nearCache: t.app.nearCache,
      config: async () => {
        throw new Error('unused');
      },
      rateLimit: false,
      docs: false,
      adminQueues: false,
    });
    base = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
    try {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const sock = connect(Number(base.port), '127.0.0.1', () => {
          sock.write(
            `POST /v1/loops HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token.operator}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"env`,
          );
          // Drip a byte now and then: an idle timeout alone would never fire.
          const drip = setInterval(() => sock.write(' '), 300);
          let got = '';
          sock.on('data', (d) => (got += d.toString()));
          sock.on('close', () => {
            clearInterval(drip);
            resolve(got);
          });
          setTimeout(() => sock.destroy(), 10_000);
        });
      });
      const took = Date.now() - started;
      expect(took).toBeLessThan(5000);
      expect(outcome).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await app.close();
    }
  });
});

describe('tokens and audit', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await setupTestApi();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  test('reserved names are refused', async () => {
    for (const name of ['bootstrap-admin', 'bootstrap', 'system', 'system-worker']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: t.auth('admin'), payload: { name, role: 'viewer' } });
      expect(res.statusCode, name).toBe(400);
      expect(res.json().code).toBe('TOKEN_NAME_RESERVED');
    }
  });

  test('audit entries carry the token id with the name it had', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: t.auth('admin'), payload: { name: 'ci-bot', role: 'viewer' } });
    expect(created.statusCode).toBe(201);
    const admin = await t.tokens.verify(t.token.admin);
    const audit = await t.app.inject({ method: 'GET', url: '/v1/audit', headers: t.auth('admin') });
    expect(audit.json().entries[0]).toMatchObject({ action: 'token.create', actor: { kind: 'api', name: 'test-admin', tokenId: admin?.id } });
  });

  test('a token record written straight into Redis does not authenticate (records are MACs under the server secret)', async () => {
    const { hash } = await import('node:crypto');
    const id = 'feedfacefeedface';
    const token = `glt_${id}_${'ab'.repeat(32)}`;
    // What an attacker with Redis access could write: the old format (sha256 of the token).
    const record = { id, name: 'minted', role: 'admin', hash: hash('sha256', token, 'hex'), createdAt: new Date().toISOString(), createdBy: 'x' };
    await t.store.redis.set(t.tokens.recordKey(id), JSON.stringify(record));
    const res = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(401);
  });
});
