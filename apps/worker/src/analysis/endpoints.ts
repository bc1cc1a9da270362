import type { EndpointRef } from './types.ts';

/**
 * HTTP endpoints named by failure text ("POST /api/agents/start → 404", "expected 200 got 404 for GET /x",
 * `Post "http://…/x": dial tcp…`, "Received: 403" under a request line) and route shapes that make them
 * comparable across runs (`/api/agents/7f3a9c2e/stop` → `/api/agents/:id/stop`).
 */

const METHODS = 'GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS';
const REQUEST = new RegExp(`\\b(${METHODS})\\s+["'\`]?((?:https?|wss?):\\/\\/[^\\s"'\`<>]+|\\/[^\\s"'\`<>),;]*)`, 'g');
// Go's net/http errors: Post "http://host/x": dial tcp ...
const GO_REQUEST = /\b(Get|Post|Put|Patch|Delete|Head|Options)\s+"((?:https?|wss?):\/\/[^"]+)"/g;
// A path with a status and no method: "`/api/auth/sessions` (404)", "/x → 404", "/x returned 404".
const PATH_STATUS = /(?:^|[\s`'"(])(\/[\w\-./:%@~]+)[`'"]?\s*(?:\((\d{3})\)|(?:→|->|=>)\s*(\d{3})\b|\s+returned\s+(\d{3})\b)/g;

// The status the server actually answered, most explicit wording first.
const STRONG_STATUS: readonly RegExp[] = [
  /(?:→|->|=>)\s*(\d{3})\b/,
  // "status 404", but not the expected one in "expected status 200 but got 404".
  /(?<!expected[\s:]+(?:\w+\s+){0,2})\bstatus(?:[ _]?code)?\s*(?:of\s*)?[:=]?\s*[<[("']?(\d{3})\b/i,
  /\bHTTP(?:\/\d(?:\.\d)?)?\s+(\d{3})\b/,
  /<Response \[(\d{3})\]>/,
  /\b(\d{3})\s+(?:Not Found|Unauthorized|Forbidden|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|Bad Request|Conflict|Method Not Allowed|Too Many Requests|Unprocessable (?:Entity|Content)|Not Implemented|Payment Required|Gone)\b/i,
];
// Wording that names an actual value, but is only an HTTP status when the text is about a request.
const WEAK_STATUS: readonly RegExp[] = [
  /\b(?:got|received|returned|returns|responded(?: with)?|answered|but was|actual)\s*[:=]?\s*[<[("']?(\d{3})\b/i,
  /\bexpected\s+(\d{3})\s+to\s+(?:be|equal|eql|deep|strictly)/i,
  /(?:^|[^\w.])(\d{3})\s*(?:!==|!=|===|==)\s*\d{3}\b/,
];
// Cheap test that a text can name an endpoint at all (most failure texts cannot).
const ANY_ENDPOINT = new RegExp(
  `\\b(?:${METHODS})\\s|\\b(?:Get|Post|Put|Patch|Delete|Head|Options)\\s+"|\\/[\\w\\-./:%@~]+[\`'"]?\\s*(?:\\(\\d{3}\\)|(?:→|->|=>)\\s*\\d{3}|\\s+returned\\s+\\d{3})`,
);
const HTTP_CONTEXT = new RegExp(`\\b(?:${METHODS})\\s+\\S*\\/|https?:\\/\\/|\\b(?:status|http|response|request|endpoint|route)\\b`, 'i');

function validStatus(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return n >= 100 && n <= 599 ? n : undefined;
}

/** The HTTP status a failure text says the server answered, if it says one. */
export function actualStatus(text: string): number | undefined {
  for (const re of STRONG_STATUS) {
    const s = validStatus(re.exec(text)?.[1]);
    if (s !== undefined) return s;
  }
  if (!HTTP_CONTEXT.test(text)) return undefined;
  for (const re of WEAK_STATUS) {
    const s = validStatus(re.exec(text)?.[1]);
    if (s !== undefined) return s;
  }
  return undefined;
}

function isOpaqueId(seg: string): boolean {
  if (/^\d+$/.test(seg)) return true;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg)) return true;
  if (/^[0-9a-f]{6,}$/i.test(seg) && /\d/.test(seg)) return true;
  if (/^[0-9A-HJKMNP-TV-Z]{26}$/.test(seg)) return true;
  if (/^\d{4}-\d{2}-\d{2}/.test(seg)) return true;
  if (/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(seg)) return true;
  // Opaque tokens: long, mixing letters and digits (base62 ids, slugs with a random suffix).
  if (seg.length >= 16 && /\d/.test(seg) && /[a-z]/i.test(seg) && /^[\w-]+$/.test(seg)) return true;
  if (/^[\w-]+-[0-9a-f]{6,}$/i.test(seg) && /\d/.test(seg.slice(seg.lastIndexOf('-')))) return true;
  return false;
}

/** A URL or path reduced to its route shape: no scheme, host, query; id-like segments become `:id`. */
export function routeShape(pathOrUrl: string): string {
  let p = pathOrUrl.trim().replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, '');
  p = p.replace(/[?#].*$/, '').replace(/[.:,;!?)\]}'"`]+$/, '');
  const segs = p.split('/').filter((s) => s !== '');
  const shaped = segs.map((s) => (s.startsWith(':') || s.startsWith('{') ? s : isOpaqueId(s) ? ':id' : s));
  return `/${shaped.join('/')}`;
}

/** "POST /api/x → 404" (the key endpoints are grouped and compared by). */
export function endpointKey(e: EndpointRef): string {
  return `${e.method ?? '*'} ${e.path}${e.status === undefined ? '' : ` → ${e.status}`}`;
}

function add(out: Map<string, EndpointRef>, method: string | undefined, rawPath: string, status: number | undefined): void {
  const path = routeShape(rawPath);
  if (path === '/' && !rawPath.includes('/')) return;
  const e: EndpointRef = { path };
  if (method) e.method = method.toUpperCase();
  if (status !== undefined) e.status = status;
  // An entry without a status is dropped once the same request is known with one.
  const withStatus = [...out.values()].some((x) => x.path === path && x.method === e.method && x.status !== undefined);
  if (status === undefined && withStatus) return;
  if (status !== undefined) out.delete(endpointKey({ ...e, status: undefined }));
  out.set(endpointKey(e), e);
}

/** Endpoints a failure text names, each with the status it reports for it (when it reports one). */
export function extractEndpoints(text: string | undefined): EndpointRef[] {
  if (!text) return [];
  const capped = text.length > 20_000 ? text.slice(0, 20_000) : text;
  const out = new Map<string, EndpointRef>();
  const wholeStatus = actualStatus(capped);
  if (!capped.includes('/') || !ANY_ENDPOINT.test(capped)) return [];
  const lines = capped.split('\n');
  for (const line of lines) {
    // Stack frames name files, not endpoints.
    if (!line.includes('/') || /^\s*(?:at |❯ |File ")/.test(line)) continue;
    const requests: [string, string][] = [];
    for (const m of line.matchAll(REQUEST)) requests.push([m[1] as string, m[2] as string]);
    for (const m of line.matchAll(GO_REQUEST)) requests.push([m[1] as string, m[2] as string]);
    if (requests.length > 0) {
      const lineStatus = actualStatus(line);
      for (const [method, path] of requests) {
        add(out, method, path, lineStatus ?? (requests.length === 1 ? wholeStatus : undefined));
      }
      continue;
    }
    for (const m of line.matchAll(PATH_STATUS)) {
      add(out, undefined, m[1] as string, validStatus(m[2] ?? m[3] ?? m[4]));
    }
  }
  // One request named, the status elsewhere in the text ("Expected: 200 / Received: 403 / POST /x").
  if (out.size === 1) {
    const only = [...out.values()][0] as EndpointRef;
    if (only.status === undefined && wholeStatus !== undefined) {
      out.clear();
      add(out, only.method, only.path, wholeStatus);
    }
  }
  return [...out.values()];
}
