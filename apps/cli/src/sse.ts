import type { LoopEvent } from '@greenloop/core';

/**
 * Follows a greenloop SSE stream, yielding parsed events. Reconnects with Last-Event-ID when the
 * connection drops, so no event is lost or repeated.
 */
export async function* followEvents(url: string, token: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<LoopEvent> {
  let lastId: string | undefined;
  let failures = 0;
  for (;;) {
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (!res.ok || !res.body) throw new Error(`${url} answered ${res.status}`);
      failures = 0;
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let sep = buf.indexOf('\n\n');
        while (sep >= 0) {
          const frame = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          sep = buf.indexOf('\n\n');
          let id: string | undefined;
          let data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (!data) continue;
          if (id) lastId = id;
          yield JSON.parse(data) as LoopEvent;
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (++failures > 5) throw err;
      await new Promise((r) => setTimeout(r, 500 * failures));
    }
  }
}
