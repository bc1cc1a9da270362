// Minimal HS256 JSON Web Token verification (RFC 7519 / RFC 7515) on node:crypto.
import { createHmac, timingSafeEqual } from 'node:crypto';

export class JwtError extends Error {
  constructor(message) {
    super(message);
    this.name = 'JwtError';
  }
}

function decodeSegment(segment) {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (value === null || typeof value !== 'object') throw new Error('not an object');
    return value;
  } catch {
    throw new JwtError('malformed token');
  }
}

/**
 * Verifies signature, `exp` and `nbf`; returns the claims. Audience and
 * issuer checks are the caller's business.
 * @param {string} token
 * @param {string} secret
 * @param {{ now?: number, leewaySeconds?: number }} [options]
 */
export function verifyHs256(token, secret, { now = Date.now(), leewaySeconds = 5 } = {}) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed token');
  const [headerB64, payloadB64, signatureB64] = parts;

  const header = decodeSegment(headerB64);
  if (header.alg !== 'HS256') throw new JwtError(`unsupported algorithm ${header.alg}`);

  const expected = createHmac('sha256', secret).update(`${headerB64}.${payloadB64}`).digest();
  const actual = Buffer.from(signatureB64, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new JwtError('invalid signature');
  }

  const claims = decodeSegment(payloadB64);
  const nowSeconds = Math.floor(now / 1000);
  if (typeof claims.exp === 'number' && nowSeconds > claims.exp + leewaySeconds) {
    throw new JwtError('token expired');
  }
  if (typeof claims.nbf === 'number' && nowSeconds < claims.nbf - leewaySeconds) {
    throw new JwtError('token not yet valid');
  }
  return claims;
}
