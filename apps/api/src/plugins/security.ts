import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import { apiError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route-level @fastify/helmet options, set by plugins that register third-party UI routes. */
    helmet?: typeof UI_HELMET;
  }
}

export interface SecurityOptions {
  /** Requests per token (per client address when unauthenticated) per window; false turns it off. */
  rateLimit: { max: number; timeWindowMs: number } | false;
}

/** A CSP that lets the two HTML pages (/docs, /admin/queues) run their own inline bootstrap code. */
export const UI_HELMET = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", "'unsafe-inline'"],
      styleSrc: ["'self'", "'unsafe-inline'", 'https:'],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'https:', 'data:'],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
} as const;

/** Security headers on every response and a per-token rate limit. */
export const securityPlugin = fp<SecurityOptions>(
  async (app, opts) => {
    // The API answers JSON and text only, so the strictest policy fits; the UI routes relax it.
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginResourcePolicy: { policy: 'same-origin' },
    });
    if (opts.rateLimit) {
      await app.register(rateLimit, {
        global: true,
        max: opts.rateLimit.max,
        timeWindow: opts.rateLimit.timeWindowMs,
        // After auth (onRequest) so the key is the token, not the client address: clients behind one
        // NAT do not share a budget. Failed authentications are limited per address by the auth plugin.
        hook: 'preHandler',
        keyGenerator: (request) => (request.principal ? `t:${request.principal.id}` : `ip:${request.ip}`),
        errorResponseBuilder: (_request, context) => apiError('RATE_LIMITED', { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) }),
      });
    }
  },
  { name: 'greenloop-security', dependencies: ['greenloop-auth'] },
);
