import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { registerUiSecurity } from './security.ts';

/**
 * OpenAPI generated from the route schemas, served at /docs/json and rendered at /docs. Public: the
 * description of the API holds nothing secret, and a browser cannot attach a bearer token to a page load.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'greenloop control API',
        description: 'Start and watch deploy → test → analyze → fix loops. Every /v1 route needs `Authorization: Bearer <token>`.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'glt_<id>_<secret>' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'loops', description: 'Loops, cycles, reports, artifacts, events' },
        { name: 'projects', description: 'Repositories served besides GREENLOOP_REPO; their environments are <project>/<environment>' },
        { name: 'schedules', description: 'Cron schedules that start loops' },
        { name: 'insights', description: 'Across loops: failure clusters, flaky tests, trends' },
        { name: 'auth', description: 'The calling token and what it may do' },
        { name: 'admin', description: 'Tokens and audit trail (admin role)' },
        { name: 'ops', description: 'Health and metrics' },
      ],
    },
    // Name components after the shared schemas' $id instead of def-0, def-1, ...
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(async (ui) => {
    ui.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), auth: 'public' };
    });
    await registerUiSecurity(ui);
    await ui.register(swaggerUi, { routePrefix: '/docs', staticCSP: false });
  });
}
