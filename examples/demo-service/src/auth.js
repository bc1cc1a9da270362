import { config } from './config.js';
import { HttpError } from './http-utils.js';
import { JwtError, verifyHs256 } from './jwt.js';

/**
 * Authenticates `Authorization: Bearer <JWT>`.
 * 401 when the token is missing or invalid, 403 when it is valid but not
 * meant for `audience`.
 * @param {import('node:http').IncomingMessage} req
 * @param {{ audience: string }} options
 */
export function authenticate(req, { audience }) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new HttpError(401, 'unauthorized', 'missing bearer token');

  let claims;
  try {
    claims = verifyHs256(match[1], config.jwtSecret);
  } catch (err) {
    if (err instanceof JwtError) throw new HttpError(401, 'unauthorized', err.message);
    throw err;
  }
  if (claims.iss !== config.jwtIssuer) throw new HttpError(401, 'unauthorized', 'unknown token issuer');

  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(audience)) {
    throw new HttpError(403, 'forbidden', 'token audience not accepted');
  }
  return claims;
}
