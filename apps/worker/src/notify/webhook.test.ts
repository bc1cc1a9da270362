import { testRedis } from '@greenloop/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger, type Received, type Reply, recordingSleep, startReceiver } from './test-support.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER, verifySignature, WebhookSender } from './webhook.ts';

const SECRET = 'whsec_test_7f3a9c2e';
const event = { type: 'cycle.finished', payload: { loop: { id: 'abc123-def' }, n: 3 } };

let r: ReturnType<typeof testRedis>;
const closers: (() => Promise<void>)[] = [];

beforeAll(() => {
  r = testRedis();
});
afterAll(async () => {
  await r.cleanup();
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function receiver(reply: (req: Received, i: number) => Reply) {
  const rec = await startReceiver(reply);
  closers.push(rec.close);
  return rec;
}

function sender(policy: Record<string, number> = {}) {
  const { sleep, calls } = recordingSleep();
  const cap = captureLogger();
  const s = new WebhookSender({ redis: r.redis, prefix: r.prefix, log: cap.log, sleep, policy: { timeoutMs: 2000, ...policy } });
  return { s, sleeps: calls, logs: cap.output };
}

function header(req: Received | undefined, name: string): string {
  const v = req?.headers[name];
  return typeof v === 'string' ? v : '';
}

describe('WebhookSender', () => {
  it('signs <timestamp>.<body> with HMAC-SHA256, verifiable by the receiver', async () => {
    let verified: boolean | undefined;
    const rec = await receiver((req) => {
      verified = verifySignature({ secret: SECRET, timestamp: header(req, TIMESTAMP_HEADER), body: req.body, signature: header(req, SIGNATURE_HEADER) });
      return { status: verified ? 204 : 401 };
    });
    const { s } = sender();
    expect(await s.send(rec.url, SECRET, event)).toMatchObject({ status: 'sent', httpStatus: 204 });
    expect(verified).toBe(true);
    const req = rec.received[0];
    expect(JSON.parse(req?.body ?? '')).toEqual(event.payload);
    expect(header(req, SIGNATURE_HEADER)).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(header(req, 'x-greenloop-event')).toBe('cycle.finished');
    expect(Math.abs(Number(header(req, TIMESTAMP_HEADER)) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('rejects a tampered body, a wrong secret and an old timestamp', () => {
    const ts = '1700000000';
    const body = '{"a":1}';
    const sig = signPayload(SECRET, ts, body);
    const nowSec = 1_700_000_010;
    expect(verifySignature({ secret: SECRET, timestamp: ts, body, signature: sig, nowSec })).toBe(true);
    expect(verifySignature({ secret: SECRET, timestamp: ts, body: '{"a":2}', signature: sig, nowSec })).toBe(false);
    expect(verifySignature({ secret: 'other', timestamp: ts, body, signature: sig, nowSec })).toBe(false);
    expect(verifySignature({ secret: SECRET, timestamp: ts, body, signature: sig, nowSec: nowSec + 3600 })).toBe(false);
    expect(verifySignature({ secret: SECRET, timestamp: '1700000001', body, signature: sig, nowSec })).toBe(false);
  });

  it('retries 500 then succeeds, with the same delivery id and a fresh valid signature', async () => {
    const rec = await receiver((_req, i) => (i === 0 ? { status: 500 } : { status: 200 }));
    const { s, sleeps } = sender({ backoffMs: 500 });
    expect(await s.send(rec.url, SECRET, event)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(sleeps).toEqual([0, 500]);
    const [a, b] = rec.received;
    expect(header(a, DELIVERY_HEADER)).toBe(header(b, DELIVERY_HEADER));
    for (const req of rec.received) {
      expect(verifySignature({ secret: SECRET, timestamp: header(req, TIMESTAMP_HEADER), body: req.body, signature: header(req, SIGNATURE_HEADER) })).toBe(
        true,
      );
    }
  });

  it('honours 429 Retry-After', async () => {
    const rec = await receiver((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 }));
    const { s, sleeps } = sender();
    expect(await s.send(rec.url, SECRET, event)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(sleeps).toEqual([0, 3000]);
  });

  it('times out a slow receiver, bounded', async () => {
    const rec = await receiver(() => ({ status: 200, delayMs: 5000 }));
    const { s } = sender({ timeoutMs: 100, maxAttempts: 3 });
    const res = await s.send(rec.url, SECRET, event);
    expect(res).toMatchObject({ status: 'failed', retryable: true, attempts: 3 });
    expect(rec.received).toHaveLength(3);
  });

  it('disables on 410 Gone; a 404 fails without disabling', async () => {
    const gone = await receiver(() => ({ status: 410 }));
    const { s } = sender();
    expect(await s.send(gone.url, SECRET, event)).toMatchObject({ status: 'disabled', newly: true });
    expect(await s.send(gone.url, SECRET, event)).toMatchObject({ status: 'disabled', newly: false, attempts: 0 });
    expect(gone.received).toHaveLength(1);

    const missing = await receiver(() => ({ status: 404 }));
    expect(await s.send(missing.url, SECRET, event)).toMatchObject({ status: 'failed', retryable: false, attempts: 1 });
    expect(await s.send(missing.url, SECRET, event)).toMatchObject({ status: 'failed' });
    expect(missing.received).toHaveLength(2);
  });

  it('never logs the URL or the secret', async () => {
    const rec = await receiver((_req, i) => (i < 2 ? { status: 502 } : { status: 410 }));
    const { s, logs } = sender();
    const res = await s.send(rec.url, SECRET, event);
    const out = `${logs()}\n${JSON.stringify(res)}`;
    expect(res.status).toBe('disabled');
    expect(out).toContain(res.target);
    expect(out).not.toContain(rec.secret);
    expect(out).not.toContain(SECRET);
  });
});
