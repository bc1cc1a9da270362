import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { apiError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's security headers come from @fastify/helmet in its own context (the HTML pages). */
    helmetPage?: boolean;
  }
}

export interface SecurityOptions {
  /** Requests per token (per client address when unauthenticated) per window; false turns it off. */
  rateLimit: { max: number; timeWindowMs: number } | false;
}

/** A CSP that lets the two HTML pages (/docs, /admin/queues) run their own inline bootstrap code. */
export const UI_HELMET = {
  contentSecurityPolicy: {
    // No helmet defaults merged in: its upgrade-insecure-requests would break the pages on plain http://127.0.0.1.
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      baseUri: ["'self'"],
      objectSrc: ["'none'"],
      formAction: ["'self'"],
      scriptSrc: ["'self'", "'unsafe-inline'"],
      styleSrc: ["'self'", "'unsafe-inline'", 'https:'],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'https:', 'data:'],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
} as const;

/** Helmet options for the API itself: it answers JSON and text only, so the strictest policy fits. */
export const API_HELMET = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginResourcePolicy: { policy: 'same-origin' },
} as const;

/**
 * Exactly the headers @fastify/helmet sends with API_HELMET (security.test.ts compares them), written
 * once per response instead of running helmet's middleware chain per request: measured with autocannon,
 * helmet on every route halved the throughput of a hello-world route (about 25k → 11k req/s here).
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

/**
 * Registers @fastify/helmet with the UI policy in an encapsulated context that holds the HTML pages
 * (/docs, /admin/queues), and marks those routes so the API headers are not added on top.
 */
export async function registerUiSecurity(ui: FastifyInstance): Promise<void> {
  ui.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), helmetPage: true };
  });
  await ui.register(helmet, { global: true, ...UI_HELMET });
}

/** Security headers on every response and a per-token rate limit. */
export const securityPlugin = fp<SecurityOptions>(
  async (app, opts) => {
    // Helmet runs only where the HTML pages live (registerUiSecurity); every other answer gets the
    // precomputed API headers.
    app.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.config.helmetPage !== true) reply.headers(API_SECURITY_HEADERS);
      done();
    });
    if (opts.rateLimit) {
      await app.register(rateLimit, {
        global: true,
        max: opts.rateLimit.max,
        timeWindow: opts.rateLimit.timeWindowMs,
        // After auth (onRequest) so the key is the token, not the client address: clients behind one
        // NAT do not share a budget. Failed authentications are limited per address by the auth plugin.
        hook: 'preHandler',
        // Budget headers on every answer cost measurable throughput; a 429 still carries Retry-After.
        addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
        keyGenerator: (request) => (request.principal ? `t:${request.principal.id}` : `ip:${request.ip}`),
        errorResponseBuilder: (_request, context) => apiError('RATE_LIMITED', { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) }),
      });
    }
  },
  // Registered before auth, so a 401 carries the headers too; the rate limiter runs later (preHandler).
  { name: 'greenloop-security' },
);
