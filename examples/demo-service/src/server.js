// Demo service for greenloop: a small agents/chat API plus a WebSocket echo
// channel. Every HTTP request (and every WebSocket upgrade) produces exactly
// one JSON log line on stdout carrying the greenloop correlation fields.
import http from 'node:http';
import { config } from './config.js';
import { handleRealtime } from './handlers/realtime.js';
import { HttpError, sendJson } from './http-utils.js';
import { levelForStatus, log, serializeError } from './logger.js';
import { createRouter } from './router.js';
import { routes } from './routes.js';
import { acceptUpgrade, CloseCode, rejectUpgrade } from './websocket.js';

const match = createRouter(routes);
/** @type {Set<import('./websocket.js').WebSocketConnection>} */
const sockets = new Set();

function header(req, name) {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * Correlation fields for log lines. The test name is sent percent-encoded
 * because header values cannot carry arbitrary Unicode.
 */
function correlation(req) {
  const test = header(req, 'x-greenloop-test');
  let decodedTest = test;
  if (test) {
    try {
      decodedTest = decodeURIComponent(test);
    } catch {
      // Not percent-encoded after all: log it as sent.
    }
  }
  return {
    runId: header(req, 'x-greenloop-run-id'),
    test: decodedTest,
    traceparent: header(req, 'traceparent'),
  };
}

function requestLine(req, pathname, status, startedAt) {
  return {
    method: req.method,
    path: pathname,
    status,
    durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
    ...correlation(req),
  };
}

async function handleRequest(req, res) {
  const startedAt = performance.now();
  const { pathname, searchParams } = new URL(req.url ?? '/', 'http://localhost');
  /** @type {{ level?: 'error', err?: unknown, detail?: string }} */
  const outcome = {};

  res.on('close', () => {
    const fields = requestLine(req, pathname, res.statusCode, startedAt);
    if (outcome.err) {
      log('error', `${req.method} ${pathname} failed: ${outcome.err.message ?? outcome.err}`, {
        ...fields,
        err: serializeError(outcome.err),
      });
    } else {
      const level = levelForStatus(res.statusCode);
      log(level, level === 'info' ? 'request completed' : 'request rejected', {
        ...fields,
        ...(outcome.detail && { detail: outcome.detail }),
      });
    }
  });

  try {
    const route = match(req.method ?? 'GET', pathname);
    if (!route) throw new HttpError(404, 'not_found', `no route for ${req.method} ${pathname}`);
    await route.handler({ req, res, params: route.params, query: searchParams });
  } catch (err) {
    if (err instanceof HttpError) {
      outcome.detail = err.message;
      sendJson(res, err.status, { error: err.code, message: err.message });
    } else {
      outcome.err = err;
      sendJson(res, 500, { error: 'internal_error', message: 'internal server error' });
    }
  }
}

function handleUpgrade(req, socket, head) {
  const startedAt = performance.now();
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  if (pathname !== '/ws') {
    rejectUpgrade(socket, 404, 'Not Found');
    log('warn', 'request rejected', { ...requestLine(req, pathname, 404, startedAt), detail: 'no websocket endpoint here' });
    return;
  }
  const ws = acceptUpgrade(req, socket, head);
  if (!ws) {
    log('warn', 'request rejected', { ...requestLine(req, pathname, 400, startedAt), detail: 'invalid websocket handshake' });
    return;
  }
  log('info', 'websocket opened', requestLine(req, pathname, 101, startedAt));
  sockets.add(ws);
  ws.on('close', () => sockets.delete(ws));
  handleRealtime(ws, { method: req.method, path: pathname, ...correlation(req) });
}

const server = http.createServer((req, res) => {
  handleRequest(req, res).catch((err) => {
    // Only reachable if the error handling itself fails.
    log('error', 'unhandled request error', { err: serializeError(err) });
    res.destroy();
  });
});
server.on('upgrade', handleUpgrade);
server.on('clientError', (_err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
});

server.listen(config.port, config.host, () => {
  const address = server.address();
  log('info', 'listening', { port: typeof address === 'object' && address ? address.port : config.port });
});

function shutdown(signal) {
  log('info', 'shutting down', { signal });
  for (const ws of sockets) ws.close(CloseCode.GOING_AWAY, 'server shutting down');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
