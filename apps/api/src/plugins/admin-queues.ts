import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queues } from '@greenloop/core';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import { registerUiSecurity } from './security.ts';

export const ADMIN_QUEUES_PATH = '/admin/queues';

const FRAMEWORK_CODES: Record<number, string> = { 403: 'FORBIDDEN', 404: 'ROUTE_NOT_FOUND', 413: 'BODY_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

/**
 * The bull-board dashboard for every queue, admin only. It is a browser page, so besides the bearer
 * header it accepts HTTP Basic with the token as the password (any user name) and asks for it.
 */
export async function registerAdminQueues(app: FastifyInstance, queues: Queues): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
  // @bull-board/fastify pins its own (patch-older) copy of @bull-board/api; the adapter is the same
  // shape, only the nominal private fields differ, so the cast is sound.
  createBullBoard({
    queues: Object.values(queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
  });
  // bull-board installs its own error handler for its routes, which echoes error messages (5xx included);
  // replace it so these routes answer in the API's format and never leak internals.
  const onError = (error: Error) => {
    if (error instanceof ApiError) {
      return { status: error.statusCode, body: { statusCode: error.statusCode, code: error.code, message: error.message, ...error.extra } };
    }
    // Fastify's own 4xx (body too large, unsupported media type, bad JSON) describe the request: keep them 4xx.
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const code = FRAMEWORK_CODES[status] ?? 'BAD_REQUEST';
      return { status, body: { statusCode: status, code, message: error.message } };
    }
    app.log.error({ err: error }, 'queue dashboard request failed');
    return { status: 500, body: { statusCode: 500, code: 'INTERNAL', message: 'internal error; the server log has the details' } };
  };
  // Its types allow a closed set of statuses (no 401/429/503), though it hands the number to reply.status as is.
  serverAdapter.setErrorHandler(onError as unknown as Parameters<FastifyAdapter['setErrorHandler']>[0]);
  await app.register(async (board) => {
    board.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), auth: 'admin', browserAuth: true };
    });
    await registerUiSecurity(board);
    await board.register(serverAdapter.registerPlugin(), { prefix: ADMIN_QUEUES_PATH });
  });
}
