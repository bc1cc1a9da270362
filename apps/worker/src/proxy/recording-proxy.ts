import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RecordedRequest, RequestRecorder } from './request-record.ts';
import { traceStamp } from './trace-context.ts';

/**
 * A recording reverse proxy in front of one deployed service: the suite calls the proxy, the proxy forwards
 * HTTP and WebSocket upgrades to the service (a local port or a remote HTTPS URL, Host rewritten), stamps a
 * W3C `traceparent` and `X-Cloud-Trace-Context`, and records one line per exchange. Bodies stream through
 * (pipe with backpressure), so memory stays bounded whatever the payload sizes.
 */

export interface RecordingProxyOptions {
  service: string;
  /** The deployed service's base URL (http or https; a path prefix is kept). */
  target: string;
  recorder: RequestRecorder;
  /** A trace id for a suite that names its test but sends no trace context (so it matches the suite's own derivation). */
  deriveTraceId?: (test: string, runId: string | undefined) => string | undefined;
  /** Extra CA certificates (PEM) to trust for an https target with a private CA; Cloud Run needs none. */
  ca?: string;
}

export interface RecordingProxy {
  service: string;
  target: string;
  /** Where the suite sends its requests: http://127.0.0.1:<port>. */
  url: string;
  /** Stops listening, cuts open connections and waits (≤ 2 s) until their records are written. */
  close(): Promise<void>;
}

// RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim()),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && !named.has(k)) out[k] = v;
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function decodeHeader(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

function rawResponseHead(status: number, message: string, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** Starts a proxy on a free loopback port. */
export async function startRecordingProxy(opts: RecordingProxyOptions): Promise<RecordingProxy> {
  const target = new URL(opts.target);
  const secure = target.protocol === 'https:';
  if (!secure && target.protocol !== 'http:') throw new Error(`recording proxy: ${opts.target} is not an http(s) URL`);
  const client = secure ? https : http;
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: 256, ...(opts.ca ? { ca: opts.ca } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets: 256 });
  const basePath = target.pathname.replace(/\/+$/, '');
  const port = target.port ? Number(target.port) : secure ? 443 : 80;
  const pending = new Set<Promise<void>>();
  const sockets = new Set<Duplex>();

  /** The facts of a request the record needs, and the headers it goes out with. */
  function prepare(req: IncomingMessage) {
    const test = decodeHeader(first(req.headers['x-greenloop-test']));
    const runId = first(req.headers['x-greenloop-run-id']);
    const stamp = traceStamp(req.headers, test ? opts.deriveTraceId?.(test, runId) : undefined);
    const headers = forwardable(req.headers);
    headers.host = target.host;
    headers.traceparent = stamp.traceparent;
    headers['x-cloud-trace-context'] = stamp.cloudTraceContext;
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    headers['x-forwarded-proto'] = 'http';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const base: Omit<RecordedRequest, 'status' | 'durationMs'> = {
      time: new Date().toISOString(),
      service: opts.service,
      method: req.method ?? 'GET',
      path: q === -1 ? url : url.slice(0, q),
      traceId: stamp.traceId,
      ...(test ? { test } : {}),
      ...(runId ? { runId } : {}),
      ...(req.headers['x-greenloop-probe'] ? { probe: true as const } : {}),
    };
    const options: https.RequestOptions = {
      protocol: target.protocol,
      hostname: target.hostname,
      port,
      method: req.method,
      path: `${basePath}${url.startsWith('/') ? url : `/${url}`}`,
      headers,
      ...(secure ? { servername: target.hostname, ...(opts.ca ? { ca: opts.ca } : {}) } : {}),
    };
    return { base, options, started: performance.now() };
  }

  /** Records once per exchange; `close()` waits for exchanges still open. */
  function tracker(base: Omit<RecordedRequest, 'status' | 'durationMs'>, started: number) {
    let done = false;
    let settle: () => void = () => {};
    const p = new Promise<void>((r) => {
      settle = r;
    });
    pending.add(p);
    return (status: number, error?: string, ws?: boolean) => {
      if (done) return;
      done = true;
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      opts.recorder.record({ ...base, status, durationMs, ...(ws ? { ws: true as const } : {}), ...(error ? { error } : {}) });
      pending.delete(p);
      settle();
    };
  }

  const server = http.createServer((req, res) => {
    const { base, options, started } = prepare(req);
    const finish = tracker(base, started);
    const upstream = client.request({ ...options, agent });
    let status: number | undefined;
    upstream.on('response', (up) => {
      status = up.statusCode ?? 502;
      res.writeHead(status, up.statusMessage, forwardable(up.headers));
      up.pipe(res);
      up.on('error', (err) => {
        finish(status ?? 502, `upstream response cut: ${errorText(err)}`);
        res.destroy();
      });
    });
    upstream.on('error', (err) => {
      const why = errorText(err);
      if (status === undefined && !res.headersSent) {
        // The suite sees a gateway error naming the cause; the record is the "environment failure" evidence.
        const body = JSON.stringify({ error: 'greenloop proxy could not reach the service', service: opts.service, cause: why });
        res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        finish(502, why);
      } else {
        finish(status ?? 502, why);
        res.destroy();
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        upstream.destroy();
        finish(status ?? 499, 'the client closed the connection before the response ended');
      } else finish(status ?? 502);
    });
    req.pipe(upstream);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { base, options, started } = prepare(req);
    const finish = tracker(base, started);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    const headers = options.headers as OutgoingHttpHeaders;
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade ?? 'websocket';
    const upstream = client.request({ ...options, headers, agent: false });
    upstream.on('upgrade', (res, upSocket, upHead) => {
      sockets.add(upSocket);
      socket.write(rawResponseHead(101, res.statusMessage ?? 'Switching Protocols', res.rawHeaders));
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => {});
      let why: string | undefined;
      const end = (err?: Error) => {
        if (err && !why) why = errorText(err);
        socket.destroy();
        upSocket.destroy();
      };
      upSocket.on('close', () => {
        sockets.delete(upSocket);
        end();
        finish(101, why, true);
      });
      socket.on('close', () => end());
      upSocket.on('error', end);
      socket.on('error', end);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    upstream.on('response', (res) => {
      // The service refused the upgrade: hand its answer back as is.
      const status = res.statusCode ?? 502;
      socket.write(rawResponseHead(status, res.statusMessage ?? '', res.rawHeaders));
      res.pipe(socket);
      res.on('end', () => finish(status, undefined, true));
      res.on('error', (err) => finish(status, errorText(err), true));
    });
    upstream.on('error', (err) => {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      finish(502, errorText(err), true);
    });
    upstream.end();
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: own } = server.address() as AddressInfo;
  return {
    service: opts.service,
    target: opts.target,
    url: `http://127.0.0.1:${own}`,
    async close() {
      server.close();
      server.closeIdleConnections();
      for (const s of sockets) s.destroy();
      // Exchanges still running (a hanging request, an open socket) are cut and recorded as such.
      const grace = setTimeout(() => server.closeAllConnections(), 500);
      await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 2000))]);
      clearTimeout(grace);
      server.closeAllConnections();
      agent.destroy();
    },
  };
}
