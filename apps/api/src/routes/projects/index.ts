import type { ProjectCreate, ProjectPatch, ProjectRecord } from '@greenloop/core';
import { appendAudit, CREDENTIALS_SECRET_PATTERN, PROJECT_NAME_PATTERN, projectNotFound } from '@greenloop/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../../errors.ts';
import { actorOf, principalOf } from '../../plugins/auth.ts';

const projectNameParams = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: PROJECT_NAME_PATTERN.source, description: 'Project name' } },
} as const;

// Shapes only: core's ProjectStore checks the rest (credentials in the remote, reserved names, greenloop's
// own variables) and names the field in its error.
const remote = {
  type: 'string',
  minLength: 1,
  maxLength: 2048,
  description:
    'https://host/path, ssh://[user@]host/path, user@host:path, or (one machine, tests) file:///path or /path of a bare repository. Never with credentials: name them in credentialsSecret.',
} as const;
const baseBranch = { type: 'string', minLength: 1, maxLength: 200, description: 'Branch loops start from (default main)' } as const;
const credentialsSecret = {
  type: 'string',
  pattern: CREDENTIALS_SECRET_PATTERN.source,
  description: "Name of the environment variable that holds the remote's credentials on every worker (not GREENLOOP_* or REDIS_*); never the value",
} as const;

/** Audit details of what a create or update set: values as given, a removed secret name as "(removed)". */
function auditDetails(fields: ProjectPatch): Record<string, string> {
  const out: Record<string, string> = {};
  if (fields.remote !== undefined) out.remote = fields.remote;
  if (fields.baseBranch !== undefined) out.baseBranch = fields.baseBranch;
  if (fields.credentialsSecret !== undefined) out.credentialsSecret = fields.credentialsSecret ?? '(removed)';
  return out;
}

/**
 * /v1/projects: the repositories this installation serves besides GREENLOOP_REPO. Admins add, change
 * and remove them (audited like tokens); any token may read them (they hold no secret, only its name).
 */
const projectsPlugin: FastifyPluginAsync = async (app) => {
  app.post<{ Body: ProjectCreate }>(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['projects'],
        summary: 'Add a project: a repository whose environments are then addressed as <project>/<environment>',
        description:
          "Workers clone the remote (credentials from the environment variable credentialsSecret names) and read greenloop.yaml at each loop's commit.",
        body: {
          type: 'object',
          required: ['name', 'remote'],
          additionalProperties: false,
          properties: { name: projectNameParams.properties.name, remote, baseBranch, credentialsSecret },
        },
        response: { 201: { $ref: 'Project#' }, ...errorResponses(400, 401, 403, 409, 413, 415, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const created = await app.projects.create(request.body, principal.name);
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principal),
        action: 'project.create',
        target: created.name,
        details: auditDetails(created),
      });
      return reply.code(201).header('location', `/v1/projects/${created.name}`).send(created);
    },
  );

  app.get(
    '/',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['projects'],
        summary: 'List projects, by name',
        response: {
          200: { type: 'object', required: ['projects'], properties: { projects: { type: 'array', items: { $ref: 'Project#' } } } },
          ...errorResponses(401, 403, 429, 500, 503),
        },
      },
    },
    async () => ({ projects: await app.projects.list() }),
  );

  app.get<{ Params: { name: string } }>(
    '/:name',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['projects'],
        summary: 'One project',
        params: projectNameParams,
        response: { 200: { $ref: 'Project#' }, ...errorResponses(400, 401, 403, 404, 429, 500, 503) },
      },
    },
    async (request): Promise<ProjectRecord> => {
      const project = await app.projects.get(request.params.name);
      if (!project) throw projectNotFound(request.params.name);
      return project;
    },
  );

  app.patch<{ Params: { name: string }; Body: ProjectPatch }>(
    '/:name',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['projects'],
        summary: "Change a project's remote, base branch or credentials secret (the fields given; credentialsSecret: null removes it)",
        description: 'Loops already created keep the project as it was when they started; the name cannot change.',
        params: projectNameParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { remote, baseBranch, credentialsSecret: { ...credentialsSecret, type: ['string', 'null'] } },
        },
        response: { 200: { $ref: 'Project#' }, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 500, 503) },
      },
    },
    async (request) => {
      const { name } = request.params;
      const updated = await app.projects.update(name, request.body);
      if (!updated) throw projectNotFound(name);
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principalOf(request)),
        action: 'project.update',
        target: name,
        details: auditDetails(request.body),
      });
      return updated;
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/:name',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['projects'],
        summary: 'Remove a project; refused (409, naming them) while any of its loops is queued or running',
        params: projectNameParams,
        response: {
          200: { type: 'object', allOf: [{ $ref: 'Project#' }], properties: { deleted: { type: 'boolean' } } },
          ...errorResponses(400, 401, 403, 404, 409, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const deleted = await app.projects.delete(name);
      if (!deleted) throw projectNotFound(name);
      await appendAudit(app.store.redis, app.store.prefix, {
        actor: actorOf(principalOf(request)),
        action: 'project.delete',
        target: name,
        details: { remote: deleted.remote },
      });
      return { ...deleted, deleted: true };
    },
  );
};

export default projectsPlugin;
