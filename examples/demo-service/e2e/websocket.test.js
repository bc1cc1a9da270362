import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseUrl, connect, correlationHeaders } from './client.js';

describe('websocket', { timeout: 15_000 }, () => {
  it('answers ping with pong and echoes messages', async (t) => {
    const socket = await connect(t);
    const pong = await socket.request({ type: 'ping' });
    assert.equal(pong.type, 'pong');

    const echo = await socket.request({ type: 'message', text: 'hello, socket' });
    assert.equal(echo.type, 'message');
    assert.equal(echo.text, 'hello, socket');

    const event = await socket.close();
    assert.equal(event.code, 1000, `WebSocket closed with code ${event.code} (${event.reason}), expected 1000`);
  });

  it('completes the closing handshake', async (t) => {
    const socket = await connect(t);
    const event = await socket.close(1000, 'bye');
    assert.equal(event.code, 1000, `WebSocket closed with code ${event.code} (${event.reason}), expected 1000`);
    assert.equal(event.wasClean, true, 'WebSocket close was not clean');
  });

  it('refuses upgrades outside /ws', async (t) => {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/not-a-socket`, { headers: correlationHeaders(t) });
    const outcome = await new Promise((resolve) => {
      ws.addEventListener('open', () => resolve('open'));
      ws.addEventListener('close', (event) => resolve(event.code));
    });
    assert.equal(outcome, 1006, `WebSocket /not-a-socket → ${outcome}, expected the upgrade to be refused`);
  });
});
