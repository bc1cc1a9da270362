import type { FastifyPluginAsync } from 'fastify';
import { DASHBOARD_JS } from './client.ts';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_ICON } from './page.ts';
import { loadVendorAssets } from './vendor.ts';

/**
 * The page's own policy, replacing the API's `default-src 'none'` (set in onRequest by the security plugin)
 * on the HTML answer only: its scripts (its own and the vendored libraries), stylesheet and API calls come
 * from this origin; nothing inline.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join(';');

const JS = 'text/javascript; charset=utf-8';

/**
 * GET /dashboard, its script and stylesheet, and the libraries it loads (/dashboard/vendor/*): static,
 * public (they hold no data); the page asks for a token and reads everything through the /v1 API with it.
 */
const dashboardPlugin: FastifyPluginAsync = async (app) => {
  const assets: { url: string; type: string; body: string; csp?: string }[] = [
    { url: '/dashboard', type: 'text/html; charset=utf-8', body: DASHBOARD_HTML, csp: DASHBOARD_CSP },
    { url: '/dashboard/app.js', type: JS, body: DASHBOARD_JS },
    { url: '/dashboard/app.css', type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
    { url: '/dashboard/favicon.svg', type: 'image/svg+xml', body: DASHBOARD_ICON },
    ...loadVendorAssets().map((v) => ({ url: v.url, type: JS, body: v.body })),
  ];
  for (const asset of assets) {
    app.get(asset.url, { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) => {
      if (asset.csp) reply.header('content-security-policy', asset.csp);
      return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
    });
  }
};

export default dashboardPlugin;
