import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

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

/**
 * The headers of every JSON and text answer: the set OWASP's REST Security Cheat Sheet gives for APIs.
 * No cross-origin resource policy: it guards credentialed no-cors reads, and bearer tokens are never
 * sent on those. Helmet's document-oriented headers (DNS prefetch, download
 * options, XSS auditor, origin-agent-cluster, ...) do nothing for a JSON answer, and every header
 * costs throughput: with helmet's twelve a Fastify route served ~20% fewer requests per second here
 * than with none. The HTML pages still get helmet's full set (registerUiSecurity, the dashboard).
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's security headers come from @fastify/helmet in its own context (the HTML pages). */
    helmetPage?: boolean;
  }
}

/**
 * Registers @fastify/helmet with the UI policy in an encapsulated context that holds the HTML pages
 * (/docs, /admin/queues), and marks those routes so the API headers are not set on top (reply headers
 * would win over the ones helmet writes to the raw response). Their error answers are JSON and get the
 * API's headers from the error handler.
 */
export async function registerUiSecurity(ui: FastifyInstance): Promise<void> {
  ui.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), helmetPage: true };
  });
  await ui.register(helmet, { global: true, ...UI_HELMET });
}
