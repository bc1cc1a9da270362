import { ConfigError, ROLES, roleAllows } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';
import { principalOf } from '../../plugins/auth.ts';

/**
 * GET /v1/session: who the presented token is and what it may do, so a client (the dashboard's login)
 * can say which role a token has and show only the actions the API would accept. The API still checks
 * every action itself; this is a courtesy, not the gate.
 */
const sessionPlugin: FastifyPluginAsync = async (app) => {
  app.get(
    '/',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'The calling token: its name, role, what it may do, and the environments it can name',
        response: {
          200: {
            type: 'object',
            required: ['name', 'role', 'kind', 'can', 'environments'],
            properties: {
              name: { type: 'string' },
              role: { type: 'string', enum: [...ROLES] },
              kind: { type: 'string', enum: ['token', 'bootstrap'] },
              can: {
                type: 'object',
                required: ['read', 'startLoop', 'cancelLoop', 'manageSchedules', 'manageTokens'],
                properties: {
                  read: { type: 'boolean' },
                  startLoop: { type: 'boolean' },
                  cancelLoop: { type: 'boolean' },
                  manageSchedules: { type: 'boolean' },
                  manageTokens: { type: 'boolean' },
                },
              },
              environments: { type: 'array', items: { type: 'string' }, description: 'Environments of greenloop.yaml' },
              configError: { type: 'string', description: 'Why greenloop.yaml could not be read (environments is then empty)' },
            },
          },
          ...errorResponses(401, 403, 422, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { name, role, kind } = principalOf(request);
      const operator = roleAllows(role, 'operator');
      const can = { read: true, startLoop: operator, cancelLoop: operator, manageSchedules: operator, manageTokens: roleAllows(role, 'admin') };
      // A broken greenloop.yaml must not lock anyone out of reading loops: say why the list is empty.
      try {
        const config = await app.loadConfig();
        return { name, role, kind, can, environments: Object.keys(config.environments).sort() };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        return { name, role, kind, can, environments: [], configError: err.message };
      }
    },
  );
};

export default sessionPlugin;
