import type { Actor, Role, TokenInfo, TokenRecord } from '@greenloop/core';
import { checkToken, hashesEqual, hashToken, parseToken, roleAllows } from '@greenloop/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { apiError } from '../errors.ts';
import { RequestBudget } from './request-budget.ts';
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
  /** Failed authentications per client address per minute before answering 429. */
  maxFailuresPerMinute?: number;
  /**
   * Failed authentications per minute over all addresses before unknown tokens are answered 429 without
   * asking Redis (tokens already verified still pass). Rotating addresses cannot get past it.
   */
  maxFailuresPerMinuteTotal?: number;
  /** Requests per token (per client address on public routes) per window; false turns it off. */
  rateLimit?: { max: number; timeWindowMs: number } | false;
}

/** The actor recorded for what a principal does through the API. */
export function actorOf(principal: Principal | null): Actor & { tokenId?: string } {
  // The id too: a name can be revoked and taken again, the id names one token for good.
  return principal ? { kind: 'api', name: principal.name, tokenId: principal.id } : { kind: 'api', name: 'anonymous' };
}

/** The principal of a request that passed auth; routes with a role always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without a principal; is its config.auth set?');
  return request.principal;
}

function presentedToken(header: string | undefined, allowBasic: boolean): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  const scheme = header.slice(0, space);
  const value = header.slice(space + 1).trim();
  if (!value || /\s/.test(value)) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (allowBasic && scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/**
 * Bearer-token auth on every route (onRequest, before the body is read), with the rate limit and the
 * security headers. Token records are kept in the app's NearCache and dropped the moment Redis says one
 * changed, so a revocation takes effect on every API process at once; this process also forgets at
 * once the tokens it revokes itself (forgetToken).
 */
export const authPlugin = fp<AuthOptions>(
  async (app, opts) => {
    const bootstrapHash = opts.bootstrapToken ? hashToken(opts.bootstrapToken) : undefined;
    const bootstrap: Principal = { kind: 'bootstrap', id: 'bootstrap', name: 'bootstrap-admin', role: 'admin' };
    const failures = new RequestBudget({ max: opts.maxFailuresPerMinute ?? 30, windowMs: 60_000 });
    const allFailures = new RequestBudget({ max: opts.maxFailuresPerMinuteTotal ?? 600, windowMs: 60_000 });
    const budget = opts.rateLimit ? new RequestBudget({ max: opts.rateLimit.max, windowMs: opts.rateLimit.timeWindowMs }) : undefined;
    const tokens = app.tokens;
    const near = app.nearCache;
    const principalOfInfo = (info: TokenInfo | undefined): Principal | undefined => info && { kind: 'token', id: info.id, name: info.name, role: info.role };

    // Principals by token hash, valid while the cache holds the record they were checked against.
    const checked = new Map<string, { principal: Principal; key: string; record: unknown; expires: number }>();

    app.decorateRequest('principal', null);
    app.decorate('forgetToken', (id: string) => {
      near.forget(tokens.recordKey(id));
      for (const [hash, entry] of checked) if (entry.principal.id === id) checked.delete(hash);
    });

    /**
     * What is known about a token without asking Redis: its principal, `false` when it is known to be
     * invalid (a kept record it does not match), undefined when Redis must be asked.
     */
    function known(token: string, hash: string, now: number): Principal | false | undefined {
      if (bootstrapHash && hashesEqual(hash, bootstrapHash)) return bootstrap;
      // The hot path: this hash was checked against the record the cache still holds (same object, so
      // not invalidated since), and has not expired: no parsing, hashing or allocation.
      const m = checked.get(hash);
      if (m && m.expires > now && near.peek(m.key, now)?.value === m.record) return m.principal;
      const id = parseToken(token)?.id;
      if (!id) return false;
      const key = tokens.recordKey(id);
      const kept = near.peek<TokenRecord | undefined>(key, now);
      if (!kept) return undefined;
      // The map above is keyed by sha256; the record holds the MAC under the server's token secret.
      const principal = principalOfInfo(checkToken(kept.value, tokens.mac(token), now));
      if (!principal) return false;
      if (checked.size >= 10_000) checked.clear();
      const expiresAt = kept.value?.expiresAt;
      checked.set(hash, { principal, key, record: kept.value, expires: expiresAt ? Date.parse(expiresAt) : Number.POSITIVE_INFINITY });
      return principal;
    }

    async function lookup(token: string, now: number): Promise<Principal | undefined> {
      const id = parseToken(token)?.id;
      if (!id) return undefined;
      const record = await near.get(tokens.recordKey(id), () => tokens.readRecord(id));
      return principalOfInfo(checkToken(record, tokens.mac(token), now));
    }

    type Done = (err?: Error) => void;

    /**
     * The onRequest hook of one route: security headers, then who is calling, then their budget. The
     * rate limit is taken here, once the caller is known, so its key is the token rather than the
     * address (clients behind one NAT do not share a budget). Callback style, not async: a cached token
     * is answered without allocating a promise.
     */
    function guard(need: Role | 'public', browserAuth: boolean, helmetPage: boolean): onRequestHookHandler {
      // A refusal is JSON even on an HTML page's route, and that route's own error handler (bull-board)
      // does not add the API's headers; other routes have them already.
      const refuse = helmetPage
        ? (reply: FastifyReply, done: Done, err: Error) => {
            reply.headers(API_SECURITY_HEADERS);
            done(err);
          }
        : (_reply: FastifyReply, done: Done, err: Error) => done(err);
      const limited = (reply: FastifyReply, done: Done, retryAfterSeconds: number) => {
        reply.header('retry-after', String(retryAfterSeconds));
        refuse(reply, done, apiError('RATE_LIMITED', { retryAfterSeconds }));
      };
      if (need === 'public') {
        return (request, reply, done) => {
          if (!helmetPage) reply.headers(API_SECURITY_HEADERS);
          const wait = budget?.take(`ip:${request.ip}`);
          if (wait !== undefined) return limited(reply, done, wait);
          done();
        };
      }
      const role: Role = need;
      // The challenge is set here rather than in the error handler: bull-board's routes bring their own.
      const challenge = browserAuth ? 'Basic realm="greenloop admin", charset="UTF-8"' : 'Bearer realm="greenloop"';
      const unauthenticated = (reply: FastifyReply, done: Done, reason: string) => {
        reply.header('www-authenticate', challenge);
        refuse(reply, done, apiError('UNAUTHENTICATED', { reason }));
      };
      const decide = (request: FastifyRequest, reply: FastifyReply, done: Done, principal: Principal | undefined) => {
        if (!principal) {
          failures.take(request.ip);
          allFailures.take('all');
          return unauthenticated(reply, done, 'invalid, expired or revoked token');
        }
        if (!roleAllows(principal.role, role)) return refuse(reply, done, apiError('FORBIDDEN', { need: role, have: principal.role, name: principal.name }));
        const wait = budget?.take(`t:${principal.id}`);
        if (wait !== undefined) return limited(reply, done, wait);
        request.principal = principal;
        done();
      };
      return (request, reply, done) => {
        if (!helmetPage) reply.headers(API_SECURITY_HEADERS);
        const token = presentedToken(request.headers.authorization, browserAuth);
        if (!token) return unauthenticated(reply, done, 'missing bearer token: send "Authorization: Bearer <token>"');
        const hash = hashToken(token.slice(0, 512));
        const now = Date.now();
        const hit = token.length <= 512 ? known(token, hash, now) : false;
        if (hit) return decide(request, reply, done, hit);
        // An address that keeps presenting bad tokens is answered 429 and stops reaching Redis; known
        // tokens still pass above.
        const wait = failures.spent(request.ip, now) ?? allFailures.spent('all', now);
        if (wait !== undefined) return limited(reply, done, wait);
        if (hit === false) return decide(request, reply, done, undefined);
        lookup(token, now).then(
          (principal) => decide(request, reply, done, principal),
          (err: Error) => done(err),
        );
      };
    }

    // Every route gets its guard; routes that say nothing need admin (fail closed). Unknown routes have
    // none and answer 404 without auth: there is nothing behind them to protect. The route's config is
    // read at its first request, not here: onRoute hooks of nested contexts (the HTML pages) run after
    // this one and may still set it.
    app.addHook('onRoute', (route) => {
      let hook: onRequestHookHandler | undefined;
      const lazy: onRequestHookHandler = function (this: FastifyInstance, request, reply, done) {
        hook ??= guard(route.config?.auth ?? 'admin', route.config?.browserAuth === true, route.config?.helmetPage === true);
        return hook.call(this, request, reply, done);
      };
      route.onRequest = [lazy, ...(route.onRequest ? [route.onRequest].flat() : [])];
    });
  },
  { name: 'greenloop-auth', dependencies: ['greenloop-deps'] },
);
