// The `/ws` realtime channel: a JSON echo service.
//   {"type":"ping"}                 → {"type":"pong", ...}
//   {"type":"message","text":"hi"}  → {"type":"message","text":"hi", ...}
import { log, serializeError } from '../logger.js';
import { CloseCode } from '../websocket.js';

/**
 * @param {import('../websocket.js').WebSocketConnection} ws
 * @param {Record<string, unknown>} context correlation fields of the upgrade request
 */
export function handleRealtime(ws, context) {
  let received = 0;

  ws.on('message', (data, isBinary) => {
    received++;
    if (isBinary) {
      ws.close(CloseCode.UNSUPPORTED_DATA, 'binary messages are not supported');
      return;
    }

    let message;
    try {
      message = JSON.parse(data);
    } catch {
      ws.send(JSON.stringify({ type: 'error', error: 'invalid_json' }));
      return;
    }

    try {
      ws.send(JSON.stringify(replyTo(message)));
    } catch (err) {
      log('error', 'websocket message handler failed', { ...context, err: serializeError(err) });
      ws.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  });

  ws.on('error', (err) => {
    log('error', 'websocket connection error', { ...context, err: serializeError(err) });
  });

  ws.on('close', (code, reason) => {
    const level = code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY ? 'info' : 'warn';
    log(level, 'websocket closed', { ...context, code, reason, messages: received });
  });
}

function replyTo(message) {
  switch (message?.type) {
    case 'ping':
      return { type: 'pong', at: timestamp(message) };
    case 'message':
      if (typeof message.text !== 'string') return { type: 'error', error: 'text must be a string' };
      return { type: 'message', text: message.text, at: timestamp(message) };
    default:
      return { type: 'error', error: `unknown message type: ${message?.type}` };
  }
}

function timestamp(message) {
  return new Date(message.sentAt).toISOString();
}
