import { config } from './config.js';

/** An error that maps to a specific HTTP response (4xx); anything else is a 500. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} code short machine-readable code, e.g. `not_found`
   * @param {string} message human-readable detail
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

export function sendJson(res, status, body) {
  if (res.headersSent) return;
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/** Reads and parses a JSON request body; an empty body is `{}`. */
export async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > config.maxBodyBytes) throw new HttpError(413, 'payload_too_large', 'request body too large');
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError(400, 'bad_request', 'request body must be a JSON object');
    }
    return body;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'bad_request', 'request body is not valid JSON');
  }
}

/** Returns `body[field]` as a trimmed non-empty string or throws a 400. */
export function requireString(body, field) {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new HttpError(400, 'bad_request', `${field} must be a non-empty string`);
  }
  return value.trim();
}
