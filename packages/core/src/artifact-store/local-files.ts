import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** A regular file under a loop's local artifact directory. */
export interface LocalFile {
  /** Path relative to the loop directory, `/`-separated. */
  rel: string;
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * Every regular file under `dir`, symlinks not followed (a test suite writes into its artifact
 * directory and could leave a link to a file outside it). Missing directory = no files.
 */
export async function listLocalFiles(dir: string): Promise<LocalFile[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  const out: LocalFile[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const s = await lstat(path).catch(() => undefined);
    if (!s?.isFile()) continue;
    out.push({ rel: relative(dir, path).split(sep).join('/'), path, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) });
  }
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

/** Opens a file for reading without following a link swapped in since it was listed. */
export async function openNoFollow(path: string) {
  return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}
