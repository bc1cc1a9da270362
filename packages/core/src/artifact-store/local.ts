import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { listLocalFiles, openNoFollow } from './local-files.ts';
import {
  type ArtifactEntry,
  type ArtifactStore,
  type ArtifactSyncReport,
  artifactNotFound,
  artifactRelPath,
  checkLoopId,
  MAX_LISTED_ENTRIES,
} from './types.ts';

function inside(base: string, p: string): boolean {
  return p === base || p.startsWith(base + sep);
}

/**
 * The embedded store: the worker's own `<home>/artifacts` directory. Publishing is a no-op (the files
 * are already where readers look); reads resolve real paths and refuse links that lead out of the loop.
 * Works when the API and the worker share a disk (one machine, or a shared volume).
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = `local:${this.root}`;
  }

  async syncLoop(loopId: string, localDir: string): Promise<ArtifactSyncReport> {
    checkLoopId(loopId);
    if (resolve(localDir) === join(this.root, loopId)) return { uploaded: 0, unchanged: 0, bytes: 0, refused: [] };
    throw new Error(`LocalArtifactStore holds ${join(this.root, loopId)}, not ${localDir}`);
  }

  /** The real path of `rel`, checked to stay inside the loop's real directory; undefined when absent. */
  private async real(loopId: string, rel: string): Promise<string | undefined> {
    const clean = artifactRelPath(rel);
    let base: string;
    try {
      base = await realpath(join(this.root, checkLoopId(loopId)));
    } catch {
      return undefined;
    }
    let real: string;
    try {
      real = await realpath(resolve(base, clean));
    } catch {
      return undefined;
    }
    return inside(base, real) ? real : undefined;
  }

  async stat(loopId: string, rel: string): Promise<{ size: number } | undefined> {
    const real = await this.real(loopId, rel);
    const s = real ? await stat(real).catch(() => undefined) : undefined;
    return s?.isFile() ? { size: s.size } : undefined;
  }

  async list(loopId: string, rel: string): Promise<ArtifactEntry[] | undefined> {
    const real = await this.real(loopId, rel);
    if (!real) return undefined;
    const dirents = await readdir(real, { withFileTypes: true }).catch(() => undefined);
    if (!dirents?.length) return undefined;
    return await Promise.all(
      dirents
        .filter((d) => d.isFile() || d.isDirectory())
        .sort((a, b) => a.name.localeCompare(b.name))
        .slice(0, MAX_LISTED_ENTRIES)
        .map(
          async (d): Promise<ArtifactEntry> =>
            d.isDirectory() ? { name: d.name, type: 'dir' } : { name: d.name, type: 'file', size: (await stat(join(real, d.name))).size },
        ),
    );
  }

  async read(loopId: string, rel: string): Promise<Readable> {
    const real = await this.real(loopId, rel);
    if (!real) throw artifactNotFound(artifactRelPath(rel));
    const handle = await openNoFollow(real).catch(() => {
      throw artifactNotFound(artifactRelPath(rel));
    });
    return handle.createReadStream();
  }

  async deleteLoop(loopId: string, opts: { dryRun?: boolean } = {}): Promise<{ objects: number; bytes: number }> {
    const dir = join(this.root, checkLoopId(loopId));
    const files = await listLocalFiles(dir);
    if (!opts.dryRun) await rm(dir, { recursive: true, force: true });
    return { objects: files.length, bytes: files.reduce((n, f) => n + f.size, 0) };
  }

  async close(): Promise<void> {}
}
