import { randomBytes } from 'node:crypto';

/**
 * W3C trace context for requests the recording proxy forwards. A suite that already sends `traceparent`
 * keeps its trace id (so its own correlation still works); otherwise the proxy starts a trace. The same id
 * goes out as `X-Cloud-Trace-Context`, which Cloud Run's request logs carry into Cloud Logging's `trace`.
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const CLOUD_TRACE = /^([0-9a-f]{32})(?:\/(\d+))?(?:;o=([01]))?$/i;
const ZERO_TRACE = '0'.repeat(32);

/** The trace and span ids the proxy stamps on one forwarded request. */
export interface TraceStamp {
  traceId: string;
  spanId: string;
  traceparent: string;
  cloudTraceContext: string;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The trace id of a valid `traceparent` (lowercase 32 hex), or undefined. */
export function traceIdOfTraceparent(value: string | undefined): string | undefined {
  const m = TRACEPARENT.exec((value ?? '').trim().toLowerCase());
  if (!m || m[1] === 'ff' || m[2] === ZERO_TRACE || m[3] === '0'.repeat(16)) return undefined;
  return m[2];
}

/**
 * The stamp for a request: the suite's `traceparent` kept as is, else its `X-Cloud-Trace-Context` trace id,
 * else `fallbackTraceId` (e.g. derived from the test name), else a random id.
 */
export function traceStamp(headers: Record<string, string | string[] | undefined>, fallbackTraceId?: string): TraceStamp {
  const incoming = header(headers.traceparent)?.trim().toLowerCase();
  const kept = traceIdOfTraceparent(incoming);
  if (kept && incoming) {
    const spanId = incoming.split('-')[2] as string;
    return { traceId: kept, spanId, traceparent: incoming, cloudTraceContext: cloudTraceContext(kept, spanId) };
  }
  const cloud = CLOUD_TRACE.exec(header(headers['x-cloud-trace-context'])?.trim() ?? '');
  const cloudId = cloud?.[1]?.toLowerCase();
  const traceId = cloudId && cloudId !== ZERO_TRACE ? cloudId : (fallbackTraceId ?? randomBytes(16).toString('hex'));
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01`, cloudTraceContext: cloudTraceContext(traceId, spanId) };
}

/** `TRACE_ID/SPAN_ID;o=1` with the span id in decimal, as Google's load balancers write it. */
export function cloudTraceContext(traceId: string, spanIdHex: string): string {
  return `${traceId}/${BigInt(`0x${spanIdHex}`).toString(10)};o=1`;
}
