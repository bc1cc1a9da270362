import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local fake of the Slack Web API methods greenloop's bot mode calls through `@slack/web-api`:
 * `auth.test`, `chat.postMessage` and `chat.update`. It keeps the messages it was sent (parents and
 * thread replies), checks the bearer token, knows which channels exist and which the bot is in, answers
 * Slack's error codes (`invalid_auth`, `channel_not_found`, `not_in_channel`, `message_not_found`), and
 * enforces a per-channel rate limit with HTTP 429 `ratelimited` and Retry-After, as Slack does.
 * Tests point the real WebClient at it with `slackApiUrl` and read `calls` and `messages`. Test-only.
 */

export type FakeSlackMethod = 'auth.test' | 'chat.postMessage' | 'chat.update';

/** One call the fake answered. */
export interface FakeSlackCall {
  method: FakeSlackMethod | string;
  /** The form fields as sent (blocks still as their JSON text). */
  args: Record<string, string>;
  authorization: string | undefined;
  /** performance.now() when the request had arrived. */
  at: number;
  /** What the fake answered: `ok` or the error code. */
  answer: string;
  status: number;
}

/** A message as the fake stores it. */
export interface FakeSlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  threadTs?: string;
  /** How many times chat.update rewrote it. */
  edits: number;
}

/** An answer the fake gives instead of handling the call. */
export interface FakeSlackFailure {
  /** HTTP status: 200 for Slack's `{ ok: false }` errors, 429 for rate limits, 5xx for outages. */
  status: number;
  /** Slack's error code in the body (`ratelimited`, `invalid_auth`, …). */
  error?: string;
  /** Seconds, sent as the Retry-After header. */
  retryAfter?: number;
  /** How many calls in a row get it (default 1). */
  times?: number;
}

/** Options of {@link startFakeSlack}. */
export interface FakeSlackOptions {
  /** Bot tokens the fake accepts; any other gets `invalid_auth`. */
  tokens: string[];
  /** Channel ids that exist, with whether the bot is a member (default true). */
  channels: Record<string, { member?: boolean }>;
  /**
   * Slack allows about one message per second per channel. Two chat.postMessage calls to one channel
   * closer than this are answered 429 `ratelimited` with Retry-After (rounded up to whole seconds). 0: off.
   */
  minPostIntervalMs?: number;
}

/** A running fake. */
export interface FakeSlack {
  /** Pass as the WebClient's `slackApiUrl`. */
  apiUrl: string;
  calls: FakeSlackCall[];
  messages: FakeSlackMessage[];
  /** Queues failures for a method (served before normal handling, in order). */
  fail: (method: FakeSlackMethod, failure: FakeSlackFailure) => void;
  /** Deletes a message, as a person in Slack could; a later chat.update of it gets `message_not_found`. */
  deleteMessage: (channel: string, ts: string) => void;
  /** Top-level messages in a channel, oldest first. */
  parents: (channel: string) => FakeSlackMessage[];
  /** Replies in a thread, oldest first. */
  replies: (channel: string, threadTs: string) => FakeSlackMessage[];
  close: () => Promise<void>;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

const TEAM = 'T0FAKE';
const BOT_USER = 'U0GREENBOT';

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeSlack(opts: FakeSlackOptions): Promise<FakeSlack> {
  const calls: FakeSlackCall[] = [];
  const messages: FakeSlackMessage[] = [];
  const failures = new Map<string, FakeSlackFailure[]>();
  const lastPost = new Map<string, number>();
  let seq = 0;
  // Slack's ts: seconds.microseconds, unique per channel; a counter keeps them unique and ordered.
  const nextTs = () => {
    seq++;
    return `${1_700_000_000 + seq}.${String(seq).padStart(6, '0')}`;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    const args = parseForm(raw, req.headers['content-type']);
    const at = performance.now();
    const a = answerFor(req, method, args, at);
    calls.push({
      method,
      args,
      authorization: req.headers.authorization,
      at,
      answer: a.body.ok === true ? 'ok' : String(a.body.error ?? a.status),
      status: a.status,
    });
    res.writeHead(a.status, { 'content-type': 'application/json; charset=utf-8', ...a.headers });
    res.end(JSON.stringify(a.body));
  }

  function answerFor(req: IncomingMessage, method: string, args: Record<string, string>, at: number): Answer {
    const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Answer => ({ status, body, headers });
    if (req.method !== 'POST') return answer(405, { ok: false, error: 'method_not_allowed' });

    const queued = failures.get(method);
    const f = queued?.[0];
    if (queued && f) {
      if ((f.times ?? 1) <= 1) queued.shift();
      else f.times = (f.times ?? 1) - 1;
      const headers: Record<string, string> = f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {};
      return answer(f.status, { ok: false, error: f.error ?? (f.status === 429 ? 'ratelimited' : 'fatal_error') }, headers);
    }

    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !opts.tokens.includes(token)) return answer(200, { ok: false, error: token ? 'invalid_auth' : 'not_authed' });

    switch (method) {
      case 'auth.test':
        return answer(200, { ok: true, url: 'https://fake.slack.test/', team: 'Fake', user: 'greenloop', team_id: TEAM, user_id: BOT_USER, bot_id: 'B0GREEN' });
      case 'chat.postMessage':
      case 'chat.update': {
        const channel = args.channel ?? '';
        const known = opts.channels[channel];
        if (!known) return answer(200, { ok: false, error: 'channel_not_found' });
        if (known.member === false) return answer(200, { ok: false, error: 'not_in_channel' });
        if (!args.text && !args.blocks) return answer(200, { ok: false, error: 'no_text' });
        const blocks = args.blocks ? parseBlocks(args.blocks) : [];
        if (!blocks) return answer(200, { ok: false, error: 'invalid_blocks' });
        if (method === 'chat.update') {
          const m = messages.find((x) => x.channel === channel && x.ts === args.ts);
          if (!m) return answer(200, { ok: false, error: 'message_not_found' });
          m.text = args.text ?? '';
          m.blocks = blocks;
          m.edits++;
          return answer(200, { ok: true, channel, ts: m.ts, text: m.text });
        }
        const interval = opts.minPostIntervalMs ?? 0;
        const prev = lastPost.get(channel);
        if (interval > 0 && prev !== undefined && at - prev < interval) {
          return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(Math.ceil((interval - (at - prev)) / 1000)) });
        }
        lastPost.set(channel, at);
        if (args.thread_ts && !messages.some((x) => x.channel === channel && x.ts === args.thread_ts && !x.threadTs)) {
          // Stricter than Slack may be: a reply under a message the fake does not have is refused, so a
          // test sees it when greenloop replies into a thread that is gone.
          return answer(200, { ok: false, error: 'thread_not_found' });
        }
        const m: FakeSlackMessage = {
          channel,
          ts: nextTs(),
          text: args.text ?? '',
          blocks,
          ...(args.thread_ts ? { threadTs: args.thread_ts } : {}),
          edits: 0,
        };
        messages.push(m);
        return answer(200, { ok: true, channel, ts: m.ts, message: { text: m.text, ts: m.ts, ...(m.threadTs ? { thread_ts: m.threadTs } : {}) } });
      }
      default:
        return answer(200, { ok: false, error: 'unknown_method' });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    fail: (method, failure) => failures.set(method, [...(failures.get(method) ?? []), { ...failure }]),
    deleteMessage: (channel, ts) => {
      const i = messages.findIndex((m) => m.channel === channel && m.ts === ts);
      if (i >= 0) messages.splice(i, 1);
    },
    parents: (channel) => messages.filter((m) => m.channel === channel && !m.threadTs),
    replies: (channel, threadTs) => messages.filter((m) => m.channel === channel && m.threadTs === threadTs),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parseForm(raw: string, contentType: string | undefined): Record<string, string> {
  if (contentType?.includes('application/json')) {
    const parsed = JSON.parse(raw || '{}') as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function parseBlocks(text: string): unknown[] | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
