import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * A local fake of the Cloud Storage JSON API, as much of it as `@google-cloud/storage` calls for
 * greenloop: simple (multipart) and resumable uploads (session URI, chunk PUTs with Content-Range,
 * 308 + Range while incomplete, status queries), media downloads (`alt=media`, Range → 206), object
 * metadata, lists with prefix / delimiter / pageToken, deletes, Google-shaped 404 bodies, and injected
 * failures (429/503…) to prove the client's retries. Objects live in memory. Test-only.
 */

export type FakeGcsCall = 'upload' | 'resumable-start' | 'chunk' | 'download' | 'metadata' | 'list' | 'delete' | 'unknown';

export interface FakeGcsRequest {
  call: FakeGcsCall;
  httpMethod: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  status: number;
}

export interface FakeGcsObject {
  data: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  generation: number;
}

interface Session {
  bucket: string;
  name: string;
  contentType: string;
  metadata: Record<string, string>;
  received: Buffer[];
  bytes: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli) as Cloud Storage reports it: base64 of the big-endian 4 bytes. */
export function crc32cBase64(data: Buffer): string {
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Splits a multipart/related body into its parts (headers are not needed: JSON first, media second). */
function multipartParts(body: Buffer, contentType: string): Buffer[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return [];
  const delim = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delim);
  while (at !== -1) {
    const start = at + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // past the CRLF after the delimiter, before the CRLF ending the part
    const headerEnd = part.indexOf('\r\n\r\n');
    parts.push(headerEnd === -1 ? part : part.subarray(headerEnd + 4));
    at = next;
  }
  return parts;
}

export class FakeGcs {
  readonly bucket: string;
  readonly objects = new Map<string, FakeGcsObject>();
  readonly requests: FakeGcsRequest[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly failures: { call: FakeGcsCall; status: number; times: number; headers?: Record<string, string> }[] = [];
  private server: Server | undefined;
  private generation = 1;
  port = 0;

  constructor(bucket = 'gl-test-bucket') {
    this.bucket = bucket;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.error(res, 500, String(err));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The `apiEndpoint` to give the client. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `times` calls of this kind are answered with `status` (e.g. 429, 503) instead of being handled. */
  fail(call: FakeGcsCall, status: number, times = 1, headers?: Record<string, string>): void {
    this.failures.push({ call, status, times, ...(headers ? { headers } : {}) });
  }

  /** Forgets objects, sessions, requests and pending failures. */
  reset(): void {
    this.objects.clear();
    this.sessions.clear();
    this.requests.length = 0;
    this.failures.length = 0;
  }

  calls(call: FakeGcsCall): FakeGcsRequest[] {
    return this.requests.filter((r) => r.call === call);
  }

  private objectJson(name: string, o: FakeGcsObject) {
    return {
      kind: 'storage#object',
      id: `${this.bucket}/${name}/${o.generation}`,
      name,
      bucket: this.bucket,
      generation: String(o.generation),
      metageneration: '1',
      contentType: o.contentType,
      size: String(o.data.length),
      md5Hash: createHash('md5').update(o.data).digest('base64'),
      crc32c: crc32cBase64(o.data),
      ...(Object.keys(o.metadata).length ? { metadata: o.metadata } : {}),
      timeCreated: new Date().toISOString(),
      updated: new Date().toISOString(),
    };
  }

  private error(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    const reason = status === 404 ? 'notFound' : status === 429 ? 'rateLimitExceeded' : status >= 500 ? 'backendError' : 'invalid';
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } }));
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  }

  private classify(method: string, path: string, q: Record<string, string>): FakeGcsCall {
    if (path.startsWith('/upload/storage/v1/b/')) {
      if (method === 'POST' && q.uploadType === 'resumable') return 'resumable-start';
      if (method === 'PUT' && q.upload_id) return 'chunk';
      if (method === 'POST') return 'upload';
      return 'unknown';
    }
    if (/^\/storage\/v1\/b\/[^/]+\/o$/.test(path) && method === 'GET') return 'list';
    if (/^\/storage\/v1\/b\/[^/]+\/o\/.+$/.test(path)) {
      if (method === 'DELETE') return 'delete';
      if (method === 'GET') return q.alt === 'media' ? 'download' : 'metadata';
    }
    return 'unknown';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const q = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    const call = this.classify(method, url.pathname, q);
    const body = await readBody(req);
    const rec: FakeGcsRequest = { call, httpMethod: method, path: url.pathname, query: q, headers: req.headers, bodyBytes: body.length, status: 0 };
    this.requests.push(rec);
    res.on('finish', () => {
      rec.status = res.statusCode;
    });
    const failure = this.failures.find((f) => f.call === call && f.times > 0);
    if (failure) {
      failure.times--;
      return this.error(res, failure.status, `injected ${failure.status}`, failure.headers);
    }
    const bucket = /^\/(?:upload\/)?storage\/v1\/b\/([^/]+)/.exec(url.pathname)?.[1];
    if (bucket !== undefined && decodeURIComponent(bucket) !== this.bucket) return this.error(res, 404, 'The specified bucket does not exist.');
    const objectName = decodeURIComponent(/^\/storage\/v1\/b\/[^/]+\/o\/(.+)$/.exec(url.pathname)?.[1] ?? '');
    switch (call) {
      case 'upload':
        return this.simpleUpload(req, res, q, body);
      case 'resumable-start':
        return this.startSession(res, q, body);
      case 'chunk':
        return this.chunk(req, res, q, body);
      case 'download':
        return this.download(req, res, objectName);
      case 'metadata': {
        const o = this.objects.get(objectName);
        return o ? this.json(res, 200, this.objectJson(objectName, o)) : this.error(res, 404, `No such object: ${this.bucket}/${objectName}`);
      }
      case 'delete':
        if (!this.objects.delete(objectName)) return this.error(res, 404, `No such object: ${this.bucket}/${objectName}`);
        res.writeHead(204).end();
        return;
      case 'list':
        return this.list(res, q);
      default:
        return this.error(res, 400, `the fake does not implement ${method} ${url.pathname}`);
    }
  }

  private put(name: string, data: Buffer, contentType: string, metadata: Record<string, string>): FakeGcsObject {
    const o = { data, contentType, metadata, generation: this.generation++ };
    this.objects.set(name, o);
    return o;
  }

  private simpleUpload(req: IncomingMessage, res: ServerResponse, q: Record<string, string>, body: Buffer) {
    const [metaPart, media] = multipartParts(body, String(req.headers['content-type'] ?? ''));
    if (!metaPart || !media || !q.name) return this.error(res, 400, 'expected a multipart/related body and ?name=');
    const meta = JSON.parse(metaPart.toString('utf8')) as { contentType?: string; metadata?: Record<string, string> };
    const o = this.put(q.name, Buffer.from(media), meta.contentType ?? 'application/octet-stream', meta.metadata ?? {});
    this.json(res, 200, this.objectJson(q.name, o));
  }

  private startSession(res: ServerResponse, q: Record<string, string>, body: Buffer) {
    const meta = (body.length ? JSON.parse(body.toString('utf8')) : {}) as { name?: string; contentType?: string; metadata?: Record<string, string> };
    const name = q.name ?? meta.name;
    if (!name) return this.error(res, 400, 'a resumable upload needs ?name= or a name in the body');
    const id = randomBytes(8).toString('hex');
    this.sessions.set(id, {
      bucket: this.bucket,
      name,
      contentType: meta.contentType ?? 'application/octet-stream',
      metadata: meta.metadata ?? {},
      received: [],
      bytes: 0,
    });
    res.writeHead(200, { location: `${this.endpoint}/upload/storage/v1/b/${this.bucket}/o?uploadType=resumable&upload_id=${id}` }).end();
  }

  private chunk(req: IncomingMessage, res: ServerResponse, q: Record<string, string>, body: Buffer) {
    const s = this.sessions.get(q.upload_id ?? '');
    if (!s) return this.error(res, 404, 'No such upload session');
    const range = String(req.headers['content-range'] ?? '');
    const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(range);
    if (!m) return this.error(res, 400, `bad Content-Range "${range}"`);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (m[1] !== undefined) {
      const start = Number(m[1]);
      // A chunk may overlap what the server already has (the client resends after a failure): keep the new part.
      if (start > s.bytes) return this.error(res, 400, `chunk starts at ${start}, server has ${s.bytes}`);
      const fresh = body.subarray(s.bytes - start);
      s.received.push(fresh);
      s.bytes += fresh.length;
    }
    if (total !== undefined && s.bytes >= total) {
      this.sessions.delete(q.upload_id ?? '');
      const o = this.put(s.name, Buffer.concat(s.received), s.contentType, s.metadata);
      return this.json(res, 200, this.objectJson(s.name, o));
    }
    res.writeHead(308, s.bytes > 0 ? { range: `bytes=0-${s.bytes - 1}` } : {}).end();
  }

  private download(req: IncomingMessage, res: ServerResponse, name: string) {
    const o = this.objects.get(name);
    if (!o) return this.error(res, 404, `No such object: ${this.bucket}/${name}`);
    const headers: Record<string, string> = {
      'content-type': o.contentType,
      'x-goog-generation': String(o.generation),
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-hash': `crc32c=${crc32cBase64(o.data)},md5=${createHash('md5').update(o.data).digest('base64')}`,
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (range && (range[1] || range[2])) {
      const size = o.data.length;
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) return this.error(res, 416, 'The requested range cannot be satisfied.');
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(end - start + 1) });
      res.end(o.data.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(o.data.length) });
    res.end(o.data);
  }

  private list(res: ServerResponse, q: Record<string, string>): void {
    const prefix = q.prefix ?? '';
    const delimiter = q.delimiter;
    const max = Math.min(Number(q.maxResults ?? 1000) || 1000, 1000);
    const names = [...this.objects.keys()].filter((n) => n.startsWith(prefix)).sort();
    // Entries in name order, a "directory" standing for all names under it (as GCS does with a delimiter).
    const entries: { name: string; prefix: boolean }[] = [];
    for (const n of names) {
      const rest = n.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (cut === -1) entries.push({ name: n, prefix: false });
      else {
        const p = prefix + rest.slice(0, cut + (delimiter?.length ?? 0));
        if (entries.at(-1)?.name !== p) entries.push({ name: p, prefix: true });
      }
    }
    const from = q.pageToken ? Number(Buffer.from(q.pageToken, 'base64url').toString()) : 0;
    const page = entries.slice(from, from + max);
    const next = from + max < entries.length ? Buffer.from(String(from + max)).toString('base64url') : undefined;
    const items = page.filter((e) => !e.prefix).map((e) => this.objectJson(e.name, this.objects.get(e.name) as FakeGcsObject));
    const prefixes = page.filter((e) => e.prefix).map((e) => e.name);
    this.json(res, 200, {
      kind: 'storage#objects',
      ...(items.length ? { items } : {}),
      ...(prefixes.length ? { prefixes } : {}),
      ...(next ? { nextPageToken: next } : {}),
    });
  }
}
