import type { Env } from '../env.ts';
import type { GcsArtifactStoreOptions } from './gcs.ts';
import { LocalArtifactStore } from './local.ts';
import type { ArtifactStore } from './types.ts';

export type { GcsArtifactStore, GcsArtifactStoreOptions } from './gcs.ts';
export { LocalArtifactStore } from './local.ts';
export { type LocalFile, listLocalFiles } from './local-files.ts';
export * from './types.ts';

/**
 * The artifact store the environment names (`GREENLOOP_ARTIFACTS`): the API and the worker both build
 * theirs here, so they always agree on where evidence is. The Cloud Storage client is loaded only
 * when `gcs` is chosen. `gcs` takes test-only overrides (endpoint,
 * retry delays) through `gcsOverrides`.
 */
export async function createArtifactStore(env: Env, gcsOverrides: Partial<GcsArtifactStoreOptions> = {}): Promise<ArtifactStore> {
  if (env.GREENLOOP_ARTIFACTS === 'gcs') {
    // Loaded only when used: the client library adds ~120 ms to every process start (CLI included).
    const { GcsArtifactStore } = await import('./gcs.ts');
    return new GcsArtifactStore({
      bucket: env.GREENLOOP_ARTIFACTS_BUCKET as string,
      prefix: env.GREENLOOP_ARTIFACTS_PREFIX,
      ...(env.GREENLOOP_ARTIFACTS_ENDPOINT ? { apiEndpoint: env.GREENLOOP_ARTIFACTS_ENDPOINT } : {}),
      ...gcsOverrides,
    });
  }
  return new LocalArtifactStore(`${env.home}/artifacts`);
}
