// todos — a small node:http service with seeded bugs, a target for greenloop's foreign-stack examples.
// Logs the way pino + pino-http do (one JSON object per line, numeric levels, `time` in epoch ms,
// `req`/`res`, `err.stack`), written by hand so the example needs no install. It knows nothing about greenloop.
const http = require('node:http');
const { hostname } = require('node:os');

const LEVELS = { info: 30, warn: 40, error: 50, fatal: 60 };
let nextReq = 1;
function log(level, fields, msg) {
  process.stdout.write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, hostname: hostname(), ...fields, msg })}\n`);
}

const TODOS = new Map([
  ['1', { id: '1', title: 'water the plants', done: false, owner: 'ada' }],
  ['2', { id: '2', title: 'file the taxes', done: false, owner: 'ada' }],
]);

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Tokens are "user:role"; a real service would verify a signature. */
function user(req) {
  const auth = req.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ')) throw new HttpError(401, 'missing bearer token');
  const [name, role] = auth.slice(7).split(':');
  return { name, role };
}

function requireWriter(req) {
  const u = user(req);
  if (u.role !== 'writer') throw new HttpError(403, 'role may not write');
  return u;
}

function listTodos() {
  return [200, { todos: [...TODOS.values()] }];
}

function completeTodo(req, id) {
  requireWriter(req);
  const todo = TODOS.get(id);
  if (!todo) throw new HttpError(404, 'no such todo');
  todo.done = true;
  return [200, todo];
}

function todoSummary(_req, id) {
  const todo = TODOS.get(id);
  if (!todo) throw new HttpError(404, 'no such todo');
  return [200, { id, words: todo.tags.length + todo.title.split(' ').length }];
}

// biome-ignore lint/correctness/noUnusedVariables: the seeded bug is that no route uses it (the fixer registers one)
function deleteTodo(req, id) {
  requireWriter(req);
  if (!TODOS.delete(id)) throw new HttpError(404, 'no such todo');
  return [200, { deleted: id }];
}

let lotteryCalls = 0;
function lottery() {
  // Fails every other call: a flaky dependency, not a code bug a fixer should touch.
  lotteryCalls++;
  return lotteryCalls % 2 === 1 ? [503, { error: 'upstream busy, try again' }] : [200, { ticket: lotteryCalls }];
}

const ROUTES = [
  ['GET', '/api/todos', listTodos],
  ['POST', '/api/todos/:id/complete', completeTodo],
  ['GET', '/api/todos/:id/summary', todoSummary],
  ['GET', '/api/lottery', lottery],
];

function route(method, path) {
  for (const [m, pattern, fn] of ROUTES) {
    if (m !== method) continue;
    const want = pattern.split('/');
    const got = path.split('/');
    if (want.length !== got.length) continue;
    const at = want.indexOf(':id');
    if (want.every((w, i) => w === ':id' || w === got[i])) return [fn, at >= 0 ? got[at] : undefined];
  }
  return [undefined, undefined];
}

const server = http.createServer((req, res) => {
  const started = Date.now();
  const reqLog = { id: nextReq++, method: req.method, url: req.url, remoteAddress: req.socket.remoteAddress };
  req.resume();
  req.on('end', () => {
    const path = (req.url ?? '/').split('?')[0];
    let status = 200;
    let body;
    let err;
    if (path === '/healthz') body = { ok: true };
    else {
      const [fn, id] = route(req.method, path);
      try {
        if (!fn) throw new HttpError(404, `no route for ${req.method} ${path}`);
        [status, body] = fn(req, id);
      } catch (e) {
        if (e instanceof HttpError) [status, body] = [e.status, { error: e.message }];
        else [status, body, err] = [500, { error: 'internal error' }, e];
      }
    }
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
    const fields = { req: reqLog, res: { statusCode: status }, responseTime: Date.now() - started };
    if (err) log('error', { ...fields, err: { type: err.constructor.name, message: err.message, stack: err.stack } }, 'request errored');
    else log(status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info', fields, 'request completed');
  });
});

if (process.env.TODOS_FAIL_AT_START) {
  log('fatal', {}, 'TODOS_DATABASE_URL is not set; refusing to start');
  process.exit(3);
}
server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => log('info', {}, `todos listening on ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
