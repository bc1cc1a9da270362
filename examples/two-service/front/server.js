// shop — the front service of greenloop's two-service example: node:http, pino-style JSON logs. It calls
// the pricing service at BACK_URL and answers 502 when pricing fails.
const http = require('node:http');

const BACK_URL = process.env.BACK_URL ?? 'http://127.0.0.1:8081';
const LEVELS = { info: 30, warn: 40, error: 50 };
function log(level, fields, msg) {
  process.stdout.write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, ...fields, msg })}\n`);
}

async function checkout(url) {
  const sku = url.searchParams.get('sku') ?? '';
  const qty = url.searchParams.get('qty') ?? '1';
  const res = await fetch(`${BACK_URL}/quote?sku=${encodeURIComponent(sku)}&qty=${encodeURIComponent(qty)}`);
  const body = await res.json();
  if (res.status >= 500) return [502, { error: `pricing failed with ${res.status}` }];
  if (res.status !== 200) return [res.status, body];
  return [200, { order: { sku, qty: Number(qty), total: body.total } }];
}

const ROUTES = { '/api/checkout': checkout };

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  const url = new URL(req.url ?? '/', 'http://front');
  let status;
  let body;
  try {
    if (url.pathname === '/healthz') [status, body] = [200, { ok: true }];
    else if (req.method === 'POST' && ROUTES[url.pathname]) [status, body] = await ROUTES[url.pathname](url);
    else [status, body] = [404, { error: `no route for ${req.method} ${url.pathname}` }];
  } catch (err) {
    log('error', { err: { type: err.name, message: err.message, stack: err.stack } }, 'request errored');
    [status, body] = [500, { error: 'internal error' }];
  }
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
  const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
  log(level, { req: { method: req.method, url: req.url }, res: { statusCode: status }, responseTime: Date.now() - started }, 'request completed');
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => log('info', {}, `shop listening, pricing at ${BACK_URL}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
