import { text } from 'node:stream/consumers';
import { type ArtifactStore, artifactRelPath, GreenloopError, redact, redactJson, roleAllows } from '@greenloop/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { artifactContentType, openArtifact, resolveArtifact } from '../../artifacts.ts';
import { apiError, errorResponses } from '../../errors.ts';
import { principalOf } from '../../plugins/auth.ts';

/** Largest text artifact served redacted; bigger ones (and binary files) are raw evidence, admin only. */
export const MAX_REDACTED_ARTIFACT_BYTES = 16 * 1024 * 1024;

function redactArtifact(text: string, type: string): string {
  if (type.startsWith('application/json')) {
    try {
      return redactJson(text);
    } catch {}
  }
  return redact(text);
}

import { LOOP_ID_PATTERN } from '../../schemas.ts';

/** The store's refusals as the API's errors: a path outside the loop is the caller's 400. */
function checkedRel(rel: string): string {
  try {
    return artifactRelPath(rel);
  } catch (err) {
    if (err instanceof GreenloopError && err.code === 'ARTIFACT_PATH_NOT_ALLOWED')
      throw apiError('PATH_NOT_ALLOWED', { path: rel.length > 200 ? `${rel.slice(0, 200)}…` : rel, reason: String(err.details?.reason ?? err.message) });
    throw err;
  }
}

/**
 * Serves from a remote artifact store (GREENLOOP_ARTIFACTS=gcs), streaming: the same answers and the
 * same role rules as from the local disk. A file wins over a directory of the same name.
 */
async function serveFromStore(store: ArtifactStore, id: string, rel: string, request: FastifyRequest, reply: FastifyReply) {
  const clean = checkedRel(rel);
  const file = clean ? await store.stat(id, clean) : undefined;
  if (!file) {
    const entries = await store.list(id, clean);
    if (!entries) throw apiError('ARTIFACT_NOT_FOUND', { path: rel });
    return reply.type('application/json; charset=utf-8').send({ path: rel, entries });
  }
  const type = artifactContentType(clean);
  const principal = principalOf(request);
  if (!roleAllows(principal.role, 'admin')) {
    if (type === 'application/octet-stream' || file.size > MAX_REDACTED_ARTIFACT_BYTES)
      throw apiError('FORBIDDEN', { need: 'admin', have: principal.role, name: principal.name });
    const body = await text(await readOr404(store, id, clean, rel));
    return reply.type(type).header('content-disposition', 'inline').send(redactArtifact(body, type));
  }
  return reply
    .type(type)
    .header('content-length', file.size)
    .header('content-disposition', 'inline')
    .send(await readOr404(store, id, clean, rel));
}

async function readOr404(store: ArtifactStore, id: string, clean: string, shown: string) {
  try {
    return await store.read(id, clean);
  } catch (err) {
    if (err instanceof GreenloopError && err.code === 'ARTIFACT_NOT_FOUND') throw apiError('ARTIFACT_NOT_FOUND', { path: shown });
    throw err;
  }
}

const artifactRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { id: string; '*': string } }>(
    '/:id/artifacts/*',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['loops'],
        summary: "A file (or directory listing) under the loop's artifact directory (or its artifact store)",
        description:
          'JUnit XML, raw test output, pulled logs, prompts, diffs, reports. Paths cannot leave the directory (no "..", no absolute paths, no symlinks out). ' +
          'Text files pass through the redactor; admins get them raw. Binary files and text over 16 MiB are raw evidence: admin only.',
        params: {
          type: 'object',
          required: ['id', '*'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', pattern: LOOP_ID_PATTERN },
            '*': { type: 'string', maxLength: 1024, description: 'Path relative to the artifact directory; empty lists it' },
          },
        },
        response: {
          200: {
            description: 'File contents (text types as text, everything else as octet-stream), or a JSON listing for a directory',
            content: {
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    path: { type: 'string' },
                    entries: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: { name: { type: 'string' }, type: { type: 'string', enum: ['file', 'dir'] }, size: { type: 'integer' } },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403, 404, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const rel = request.params['*'];
      if (!(await app.store.getLoop(id))) throw apiError('LOOP_NOT_FOUND', { id });
      if (app.artifactStore.kind !== 'local') return await serveFromStore(app.artifactStore, id, rel, request, reply);
      const target = await resolveArtifact(app.greenloopEnv.home, id, rel);
      if (target.kind === 'dir') {
        return reply.type('application/json; charset=utf-8').send({ path: rel, entries: target.entries });
      }
      const type = artifactContentType(target.path);
      const principal = principalOf(request);
      if (!roleAllows(principal.role, 'admin')) {
        // Raw evidence (stdout, service logs) can hold anything a test printed: others get it redacted.
        if (type === 'application/octet-stream' || target.size > MAX_REDACTED_ARTIFACT_BYTES) {
          throw apiError('FORBIDDEN', { need: 'admin', have: principal.role, name: principal.name });
        }
        const handle = await openArtifact(target.path);
        let text: string;
        try {
          text = await handle.readFile('utf8');
        } finally {
          await handle.close();
        }
        return reply.type(type).header('content-disposition', 'inline').send(redactArtifact(text, type));
      }
      const handle = await openArtifact(target.path);
      return reply.type(type).header('content-length', target.size).header('content-disposition', 'inline').send(handle.createReadStream());
    },
  );
};

export default artifactRoutes;
