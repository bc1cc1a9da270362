import type { Actor, Role, TokenInfo } from '@greenloop/core';
import { hashesEqual, hashToken, roleAllows } from '@greenloop/core';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ApiError, apiError } from '../errors.ts';
import { API_SECURITY_HEADERS } from './security.ts';

/** Who is calling: a stored token or the bootstrap admin token from GREENLOOP_API_TOKEN. */
export interface Principal {
  kind: 'token' | 'bootstrap';
  /** Token id ("bootstrap" for the bootstrap token). */
  id: string;
  /** Token name: the actor recorded on loops and in the audit trail. */
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role the route needs, or "public". Routes that say nothing need admin (fail closed). */
    auth?: Role | 'public';
    /** Browser pages (bull-board): also accept HTTP Basic with the token as password, and ask for it. */
    browserAuth?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Drops cached verifications of a token (after revoking it). */
    forgetToken(id: string): void;
  }
}

export interface AuthOptions {
  /** GREENLOOP_API_TOKEN; only its hash is kept. */
  bootstrapToken?: string;
  /** How long a verified token is trusted without asking Redis again. */
  cacheTtlMs?: number;
  /** Failed authentications per client address per minute before answering 429. */
  maxFailuresPerMinute?: number;
}

/** The actor recorded for what a principal does through the API. */
export function actorOf(principal: Principal | null): Actor {
  return { kind: 'api', name: principal?.name ?? 'anonymous' };
}

/** The principal of a request that passed auth; routes with a role always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without a principal; is its config.auth set?');
  return request.principal;
}

function presentedToken(header: string | undefined, allowBasic: boolean): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (allowBasic && scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/**
 * Bearer-token auth on every route (onRequest, before the body is read). Verified tokens are cached
 * for a few seconds by their hash, so a busy client costs one Redis read per TTL rather than per request;
 * revocation is immediate on this instance (forgetToken) and takes at most the TTL on others.
 */
export const authPlugin = fp<AuthOptions>(
  async (app, opts) => {
    const bootstrapHash = opts.bootstrapToken ? hashToken(opts.bootstrapToken) : undefined;
    const ttl = opts.cacheTtlMs ?? 5000;
    const maxFailures = opts.maxFailuresPerMinute ?? 30;
    const cache = new Map<string, { principal: Principal; expires: number }>();
    const failures = new Map<string, { count: number; resetAt: number }>();

    app.decorateRequest('principal', null);
    app.decorate('forgetToken', (id: string) => {
      for (const [hash, entry] of cache) if (entry.principal.id === id) cache.delete(hash);
    });

    /** The principal for a token hash already verified within the TTL, or the bootstrap token. */
    function known(hash: string, now: number): Principal | undefined {
      const hit = cache.get(hash);
      if (hit && hit.expires > now) return hit.principal;
      if (bootstrapHash && hashesEqual(hash, bootstrapHash)) return { kind: 'bootstrap', id: 'bootstrap', name: 'bootstrap-admin', role: 'admin' };
      return undefined;
    }

    async function lookup(token: string, hash: string, now: number): Promise<Principal | undefined> {
      const info: TokenInfo | undefined = await app.tokens.verify(token, now);
      if (!info) {
        cache.delete(hash);
        return undefined;
      }
      const principal: Principal = { kind: 'token', id: info.id, name: info.name, role: info.role };
      if (cache.size >= 10_000) cache.clear();
      const expires = info.expiresAt ? Math.min(now + ttl, Date.parse(info.expiresAt)) : now + ttl;
      cache.set(hash, { principal, expires });
      return principal;
    }

    function tooManyFailures(ip: string): number | undefined {
      const f = failures.get(ip);
      if (f && f.resetAt > Date.now() && f.count >= maxFailures) return Math.ceil((f.resetAt - Date.now()) / 1000);
      return undefined;
    }

    function recordFailure(ip: string): void {
      const now = Date.now();
      const f = failures.get(ip);
      if (!f || f.resetAt <= now) {
        if (failures.size >= 10_000) failures.clear();
        failures.set(ip, { count: 1, resetAt: now + 60_000 });
      } else f.count++;
    }

    // Callback style, not async: a cached token is answered without allocating a promise per request.
    app.addHook('onRequest', (request, reply, done) => {
      const config = request.routeOptions.config;
      // Unknown routes answer 404 without auth: there is nothing behind them to protect.
      const need = config.auth ?? (request.is404 ? 'public' : 'admin');
      if (need === 'public') {
        done();
        return;
      }
      // HTML pages get helmet's headers later, in their own context, which a refusal never reaches:
      // it is JSON, so it gets the API's headers.
      const refuse = (err: ApiError) => {
        if (config.helmetPage) reply.headers(API_SECURITY_HEADERS);
        done(err);
      };
      // The challenge is set here rather than in the error handler: bull-board's routes bring their own.
      const unauthenticated = (reason: string) => {
        reply.header('www-authenticate', config.browserAuth ? 'Basic realm="greenloop admin", charset="UTF-8"' : 'Bearer realm="greenloop"');
        refuse(apiError('UNAUTHENTICATED', { reason }));
      };
      const decide = (principal: Principal | undefined) => {
        if (!principal) {
          recordFailure(request.ip);
          unauthenticated('invalid, expired or revoked token');
        } else if (!roleAllows(principal.role, need)) {
          refuse(apiError('FORBIDDEN', { need, have: principal.role, name: principal.name }));
        } else {
          request.principal = principal;
          done();
        }
      };
      const token = presentedToken(request.headers.authorization, config.browserAuth === true);
      if (!token) return unauthenticated('missing bearer token: send "Authorization: Bearer <token>"');
      const hash = hashToken(token.slice(0, 512));
      const now = Date.now();
      const hit = token.length <= 512 ? known(hash, now) : undefined;
      if (hit) return decide(hit);
      // An address that keeps presenting bad tokens stops reaching Redis; known tokens still pass above.
      const retryAfter = tooManyFailures(request.ip);
      if (retryAfter !== undefined) return refuse(apiError('RATE_LIMITED', { retryAfterSeconds: retryAfter }));
      if (token.length > 512) return decide(undefined);
      lookup(token, hash, now).then(decide, (err: Error) => done(err));
    });
  },
  { name: 'greenloop-auth', dependencies: ['greenloop-deps'] },
);
