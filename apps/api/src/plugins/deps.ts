import type { ArtifactStore, Env, GreenloopConfig, LoopStore, NearCache, ProjectStore, Queues, TokenStore } from '@greenloop/core';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** The parsed environment (paths, prefix, bootstrap token). */
    greenloopEnv: Env;
    store: LoopStore;
    queues: Queues;
    tokens: TokenStore;
    /** The repositories this installation serves besides its own (`<project>/<environment>`). */
    projects: ProjectStore;
    /** greenloop.yaml, cached until the file changes; throws ConfigError when it is broken. */
    loadConfig: () => Promise<GreenloopConfig>;
    /** Loop views and token records read from Redis and kept coherent with it. */
    nearCache: NearCache;
    /** Where the workers publish evidence (GREENLOOP_ARTIFACTS): artifacts and reports are read from it. */
    artifactStore: ArtifactStore;
  }
}

export interface DepsOptions {
  env: Env;
  store: LoopStore;
  queues: Queues;
  tokens: TokenStore;
  projects: ProjectStore;
  config: () => Promise<GreenloopConfig>;
  nearCache: NearCache;
  artifactStore: ArtifactStore;
}

/** Shares the clients every route uses as decorations; the caller owns (and closes) them. */
export const depsPlugin = fp<DepsOptions>(
  async (app, opts) => {
    app.decorate('greenloopEnv', opts.env);
    app.decorate('store', opts.store);
    app.decorate('queues', opts.queues);
    app.decorate('tokens', opts.tokens);
    app.decorate('projects', opts.projects);
    app.decorate('loadConfig', opts.config);
    app.decorate('nearCache', opts.nearCache);
    app.decorate('artifactStore', opts.artifactStore);
  },
  { name: 'greenloop-deps' },
);
