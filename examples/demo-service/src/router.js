// A tiny method + path router. Patterns are literal segments or `:param`
// segments; routes are tried in order, first match wins.

/**
 * @typedef {(ctx: {
 *   req: import('node:http').IncomingMessage,
 *   res: import('node:http').ServerResponse,
 *   params: Record<string, string>,
 *   query: URLSearchParams,
 * }) => unknown} Handler
 */

/**
 * @param {Array<[method: string, pattern: string, handler: Handler]>} routes
 */
export function createRouter(routes) {
  const compiled = routes.map(([method, pattern, handler]) => ({
    method,
    handler,
    segments: pattern.split('/').filter(Boolean),
  }));

  /** @returns {{ handler: Handler, params: Record<string, string> } | undefined} */
  return function match(method, pathname) {
    const parts = pathname.split('/').filter(Boolean);
    for (const route of compiled) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const params = {};
      const ok = route.segments.every((segment, i) => {
        if (segment.startsWith(':')) {
          params[segment.slice(1)] = decodeURIComponent(parts[i]);
          return true;
        }
        return segment === parts[i];
      });
      if (ok) return { handler: route.handler, params };
    }
    return undefined;
  };
}
