import type { LoopEvent } from '@greenloop/core';

/** An SSE stream that answered with an error status: retrying will not help. */
export class EventStreamError extends Error {
  readonly status: number;
  readonly body: string;

  constructor(url: string, status: number, body: string) {
    super(`${url} answered ${status}${body ? `: ${body.slice(0, 300)}` : ''}`);
    this.name = 'EventStreamError';
    this.status = status;
    this.body = body;
  }
}

interface Frame {
  id?: string;
  event?: string;
  data: string;
}

/** Splits a text/event-stream buffer into complete frames; returns them and the unfinished rest. */
export function parseFrames(buffer: string): { frames: Frame[]; rest: string } {
  const frames: Frame[] = [];
  const normalized = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalized.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const frame: Frame = { data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'id') frame.id = value;
      else if (field === 'event') frame.event = value;
    }
    if (data.length) {
      frame.data = data.join('\n');
      frames.push(frame);
    }
  }
  return { frames, rest };
}

/**
 * Follows a greenloop SSE stream, yielding parsed events. When the connection drops it reconnects with
 * Last-Event-ID, so no event is lost or repeated; when the server ends the stream on purpose (a loop's
 * stream ends after loop.finished) the generator returns. Error statuses (401, 404, ...) throw at once.
 */
export async function* followEvents(
  url: string,
  token: string,
  opts: { signal?: AbortSignal; lastEventId?: string; maxRetries?: number } = {},
): AsyncGenerator<LoopEvent> {
  let lastId = opts.lastEventId;
  let failures = 0;
  const maxRetries = opts.maxRetries ?? 8;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (++failures > maxRetries) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures)));
      continue;
    }
    if (!res.ok || !res.body) {
      // 503 (restarting, too many streams) is worth another try; the other statuses are final.
      if (res.status === 503 && ++failures <= maxRetries) {
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures)));
        continue;
      }
      throw new EventStreamError(url, res.status, await res.text().catch(() => ''));
    }
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        failures = 0;
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        const { frames, rest } = parseFrames(buf);
        buf = rest;
        for (const f of frames) {
          if (f.id) lastId = f.id;
          yield { ...(JSON.parse(f.data) as LoopEvent), ...(f.id ? { id: f.id } : {}) };
        }
      }
      return;
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (++failures > maxRetries) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures)));
    }
  }
}
