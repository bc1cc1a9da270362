import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { EventStreamError, followEvents, parseFrames } from './sse.ts';

let server: Server | undefined;

afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

const ev = (id: string, type: string) =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ type, loopId: 'l', time: '2026-01-01T00:00:00Z', message: id })}\n\n`;

test('parseFrames keeps partial frames, skips comments, joins multi-line data', () => {
  const { frames, rest } = parseFrames(': keep-alive\n\nid: 1-0\nevent: a\ndata: x\ndata: y\n\nid: 2-0\ndata: part');
  expect(frames).toEqual([{ id: '1-0', event: 'a', data: 'x\ny' }]);
  expect(rest).toBe('id: 2-0\ndata: part');
});

test('a dropped connection is resumed with Last-Event-ID; a clean end returns', async () => {
  const seen: (string | undefined)[] = [];
  server = createServer((req, res) => {
    seen.push(req.headers['last-event-id'] as string | undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (seen.length === 1) {
      res.write(ev('1-0', 'loop.started'));
      res.write(ev('2-0', 'cycle.started'));
      // Drop mid-frame, like a proxy timing out.
      res.write('id: 3-0\ndata: {"ty');
      setTimeout(() => res.socket?.destroy(), 50);
    } else {
      res.end(ev('3-0', 'loop.finished'));
    }
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const got: string[] = [];
  for await (const e of followEvents(`http://127.0.0.1:${port}/`, 'tok')) got.push(`${e.id}:${e.type}`);
  expect(got).toEqual(['1-0:loop.started', '2-0:cycle.started', '3-0:loop.finished']);
  expect(seen).toEqual([undefined, '2-0']);
});

test('an error status throws at once', async () => {
  server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"code":"LOOP_NOT_FOUND"}');
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const it = followEvents(`http://127.0.0.1:${port}/`, 'tok');
  await expect(it.next()).rejects.toBeInstanceOf(EventStreamError);
});
