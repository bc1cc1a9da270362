import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, loadConfig } from './load.ts';
import type { GreenloopConfig } from './schema.ts';

/**
 * greenloop.yaml from the repository root, parsed once and re-read when the file changes (mtime, size
 * or inode), so editing the config needs no restart. A broken file stays an error (ConfigError) until
 * it changes; the stat per call is cheap next to the request it serves.
 */
export function createConfigLoader(repo: string): () => Promise<GreenloopConfig> {
  const file = join(repo, CONFIG_FILE);
  let cached: { key: string; config: Promise<GreenloopConfig> } | undefined;
  return async () => {
    let key = 'missing';
    try {
      const s = await stat(file);
      key = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {}
    if (!cached || cached.key !== key) {
      const config = loadConfig(file);
      // Attach a handler so a broken config does not surface as an unhandled rejection between requests.
      config.catch(() => {});
      cached = { key, config };
    }
    return await cached.config;
  };
}
