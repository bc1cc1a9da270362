import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * One request the suite sent through a recording proxy: a line of `<cycleDir>/test/requests.jsonl`.
 * Realness (requests that reached this cycle's revision) and correlation (requests per failed test) read it.
 */
export interface RecordedRequest {
  /** ISO time the proxy received the request. */
  time: string;
  service: string;
  method: string;
  /** Path without the query string (queries carry tokens too often to keep). */
  path: string;
  /** The upstream status; 502 when the service could not be reached (then `error` says why). */
  status: number;
  /** Until the response ended (for a WebSocket: until the connection closed). */
  durationMs: number;
  /** The W3C trace id the request carried to the service. */
  traceId: string;
  /** From the suite's `x-greenloop-test` header, when it sends one. */
  test?: string;
  /** From the suite's `x-greenloop-run-id` header, when it sends one. */
  runId?: string;
  ws?: true;
  /** greenloop's own probe (`x-greenloop-probe` header): not test traffic. */
  probe?: true;
  /** Why the exchange failed at the proxy: connection refused, reset, TLS, client gone… */
  error?: string;
}

// A suite that floods the proxy must not grow the worker's memory: past this many bytes waiting for the
// disk, lines are counted as dropped instead of queued.
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** Appends records as JSON lines, bounded in memory; `close()` says how many were written and dropped. */
export class RequestRecorder {
  readonly file: string;
  written = 0;
  dropped = 0;
  private readonly out: WriteStream;

  constructor(file: string) {
    this.file = file;
    this.out = createWriteStream(file, { flags: 'a' });
    // A disk error must not crash the worker; the records are evidence, not the run.
    this.out.on('error', () => {});
  }

  record(r: RecordedRequest): void {
    if (this.out.destroyed || this.out.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.out.write(`${JSON.stringify(r)}\n`);
    this.written++;
  }

  close(): Promise<{ written: number; dropped: number }> {
    return new Promise((resolve) => {
      this.out.end(() => resolve({ written: this.written, dropped: this.dropped }));
    });
  }
}

function isRecord(v: unknown): v is RecordedRequest {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.time === 'string' &&
    typeof r.service === 'string' &&
    typeof r.method === 'string' &&
    typeof r.path === 'string' &&
    typeof r.status === 'number' &&
    typeof r.durationMs === 'number' &&
    typeof r.traceId === 'string'
  );
}

/** Reads a requests.jsonl (missing file → []); at most `max` records, the earliest kept; bad lines skipped. */
export async function readRecordedRequests(file: string, max = 50_000): Promise<RecordedRequest[]> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return [];
  const out: RecordedRequest[] = [];
  try {
    for await (const line of fh.readLines()) {
      if (out.length >= max) break;
      if (!line.startsWith('{')) continue;
      try {
        const v: unknown = JSON.parse(line);
        if (isRecord(v)) out.push(v);
      } catch {
        // a line cut by a crash mid-write
      }
    }
  } finally {
    await fh.close();
  }
  return out.sort((a, b) => a.time.localeCompare(b.time));
}
