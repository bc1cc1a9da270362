// Shared helpers for the e2e suite: HTTP and WebSocket clients that tag every
// request with greenloop's correlation headers, and JWT signing for the chat
// tests. See README.md, "Correlation convention".
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';

export const baseUrl = (process.env.GREENLOOP_URL_API ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
export const runId = process.env.GREENLOOP_RUN_ID ?? 'local';
const jwtSecret = process.env.DEMO_JWT_SECRET ?? 'demo-secret-not-real';

/** The test's full name, e.g. `agents > starts and stops an agent session`. */
export function testName(t) {
  return t.fullName ?? t.name;
}

/** W3C trace id for a test: first 32 hex digits of sha256("<runId>:<test full name>"). */
export function traceIdFor(name) {
  return createHash('sha256').update(`${runId}:${name}`).digest('hex').slice(0, 32);
}

/** Headers that let greenloop tie server log lines to the test that caused them. */
export function correlationHeaders(t) {
  const name = testName(t);
  return {
    'x-greenloop-run-id': runId,
    // Header values must be Latin-1; percent-encoding keeps any test name intact.
    'x-greenloop-test': encodeURIComponent(name),
    traceparent: `00-${traceIdFor(name)}-${randomBytes(8).toString('hex')}-01`,
  };
}

/** `METHOD /path → status, expected N (error: message)` — no double quotes, they survive JUnit XML badly. */
function describeResponse(method, path, res, expected) {
  let text = `${method} ${path} → ${res.status}, expected ${expected}`;
  if (res.body && typeof res.body === 'object' && res.body.error) {
    text += ` (${res.body.error}: ${res.body.message})`;
  }
  return text;
}

/**
 * HTTP client bound to a test. Pass `expect` to assert the status code; the
 * assertion message names method, path and status.
 */
export function api(t) {
  async function request(method, path, { body, headers, expect } = {}) {
    let response;
    try {
      response = await fetch(baseUrl + path, {
        method,
        headers: {
          ...correlationHeaders(t),
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      assert.fail(`${method} ${path} → request failed: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
    }
    const text = await response.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the raw text.
    }
    const res = { status: response.status, headers: response.headers, body: parsed };
    if (expect !== undefined && res.status !== expect) {
      assert.fail(describeResponse(method, path, res, expect));
    }
    return res;
  }

  return {
    request,
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    delete: (path, options) => request('DELETE', path, options),
  };
}

/** Signs an HS256 JWT. Defaults to a valid chat token for `demo-user`. */
export function signToken(claims = {}, secret = jwtSecret) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: 'demo-user', iss: 'demo-auth', aud: 'demo-chat', iat: now, exp: now + 300, ...claims };
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(payload)}`;
  const signature = createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

export function bearer(token) {
  return { authorization: `Bearer ${token}` };
}

/**
 * Opens a WebSocket bound to a test and resolves once it is open. The
 * returned client queues incoming JSON messages; `request()` sends one and
 * waits for the next reply. If the server closes the connection while a
 * reply is awaited, the failure reads `WebSocket closed with code N (reason) ...`.
 */
export async function connect(t, path = '/ws', { timeoutMs = 5000 } = {}) {
  const url = `${baseUrl.replace(/^http/, 'ws')}${path}`;
  // `headers` is a Node (undici) extension of the WebSocket constructor.
  const ws = new WebSocket(url, { headers: correlationHeaders(t) });
  const inbox = [];
  const waiters = [];
  /** @type {CloseEvent | null} */
  let closeEvent = null;

  const closed = new Promise((resolve) => {
    ws.addEventListener('close', (event) => {
      closeEvent = event;
      for (const waiter of waiters.splice(0)) waiter.onClose(event);
      resolve(event);
    });
  });

  ws.addEventListener('message', (event) => {
    let data = event.data;
    try {
      data = JSON.parse(event.data);
    } catch {
      // Not JSON: hand over the raw data.
    }
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(data);
    else inbox.push(data);
  });

  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`WebSocket ${path} did not open within ${timeoutMs}ms`)), timeoutMs);
    ws.addEventListener('open', () => {
      clearTimeout(timer);
      resolve();
    });
    closed.then((event) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket ${path} closed with code ${event.code} before opening`));
    });
  });

  t.after(() => {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
  });

  /** Resolves with the next incoming message. */
  function next(waitingFor) {
    if (inbox.length > 0) return Promise.resolve(inbox.shift());
    const describeWait = `while waiting for a reply to ${waitingFor} on ${path}`;
    if (closeEvent) {
      return Promise.reject(new assert.AssertionError({ message: closedMessage(closeEvent, describeWait), operator: 'fail' }));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new assert.AssertionError({ message: `no reply ${describeWait} within ${timeoutMs}ms`, operator: 'fail' }));
      }, timeoutMs);
      const waiter = {
        resolve: (data) => {
          clearTimeout(timer);
          resolve(data);
        },
        onClose: (event) => {
          clearTimeout(timer);
          reject(new assert.AssertionError({ message: closedMessage(event, describeWait), operator: 'fail' }));
        },
      };
      waiters.push(waiter);
    });
  }

  return {
    ws,
    closed,
    /** Sends a JSON message and resolves with the next message received. */
    request(message) {
      ws.send(JSON.stringify(message));
      return next(message.type);
    },
    /** Closes from the client side and resolves with the close event. */
    close(code = 1000, reason = 'done') {
      ws.close(code, reason);
      return closed;
    },
  };
}

function closedMessage(event, context) {
  return `WebSocket closed with code ${event.code} (${event.reason || 'no reason given'}) ${context}`;
}
