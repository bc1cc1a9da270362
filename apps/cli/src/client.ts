import type { LoopEvent } from '@greenloop/core';
import { followEvents } from './sse.ts';

/** An error answer from the API, with its stable code. */
export class ApiRequestError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
    this.name = 'ApiRequestError';
    this.status = status;
    this.code = typeof body.code === 'string' ? body.code : `HTTP_${status}`;
    this.body = body;
  }
}

/** The API could not be reached at all. */
export class ApiUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `cannot reach the greenloop API at ${url} (${cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause)}); start it with \`greenloop up\` or set GREENLOOP_URL`,
    );
    this.name = 'ApiUnreachableError';
  }
}

/** A thin HTTP client for the greenloop API: JSON in, JSON (or text) out, errors as ApiRequestError. */
export class ApiClient {
  readonly baseUrl: string;
  readonly token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), 'user-agent': 'greenloop-cli', ...extra };
  }

  private async send(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers = this.headers(opts.headers);
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    } catch (err) {
      throw new ApiUnreachableError(this.baseUrl, err);
    }
    if (res.status >= 400) {
      const text = await res.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { message: text.slice(0, 500) || `HTTP ${res.status}` };
      }
      throw new ApiRequestError(res.status, body);
    }
    return res;
  }

  /** A JSON request; resolves with the parsed body and the status (200 vs 202 matters for loops). */
  async json<T>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, opts);
    return { status: res.status, body: (await res.json()) as T };
  }

  async get<T>(path: string): Promise<T> {
    return (await this.json<T>('GET', path)).body;
  }

  /** A text resource, e.g. a markdown report. */
  async text(path: string, accept: string): Promise<string> {
    return await (await this.send('GET', path, { headers: { accept } })).text();
  }

  /** Follows an SSE stream, resuming after drops. */
  events(path: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<LoopEvent> {
    return followEvents(`${this.baseUrl}${path}`, this.token ?? '', opts);
  }
}
