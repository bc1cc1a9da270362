import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, resolve, sep } from 'node:path';
import { apiError } from './errors.ts';

/** `<home>/artifacts/<loopId>`: everything the worker keeps as evidence for one loop. */
export function loopArtifactDir(home: string, loopId: string): string {
  return join(home, 'artifacts', loopId);
}

function inside(base: string, p: string): boolean {
  return p === base || p.startsWith(base + sep);
}

/** What an artifact path points at, after every check. */
export type ArtifactTarget =
  | { kind: 'file'; path: string; size: number }
  | { kind: 'dir'; path: string; entries: { name: string; type: 'file' | 'dir'; size?: number }[] };

/**
 * Resolves `rel` inside the loop's artifact directory. Rejects NUL bytes, absolute paths and `..`
 * segments outright (clear 400s), then checks the lexical resolution and the real path (symlinks
 * followed) both stay under the directory's real path, so a symlink cannot lead out of it.
 */
export async function resolveArtifact(home: string, loopId: string, rel: string): Promise<ArtifactTarget> {
  const shown = rel.length > 200 ? `${rel.slice(0, 200)}…` : rel;
  if (rel.includes('\0')) throw apiError('PATH_NOT_ALLOWED', { path: shown, reason: 'contains a NUL byte' });
  if (isAbsolute(rel) || /^[a-zA-Z]:/.test(rel) || rel.startsWith('\\'))
    throw apiError('PATH_NOT_ALLOWED', { path: shown, reason: "must be relative to the loop's artifact directory" });
  if (rel.split(/[\\/]/).some((seg) => seg === '..')) throw apiError('PATH_NOT_ALLOWED', { path: shown, reason: '".." segments are not allowed' });
  let base: string;
  try {
    base = await realpath(loopArtifactDir(home, loopId));
  } catch {
    throw apiError('ARTIFACT_NOT_FOUND', { path: shown });
  }
  const lexical = resolve(base, rel);
  if (!inside(base, lexical)) throw apiError('PATH_NOT_ALLOWED', { path: shown, reason: "resolves outside the loop's artifact directory" });
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    throw apiError('ARTIFACT_NOT_FOUND', { path: shown });
  }
  if (!inside(base, real)) throw apiError('PATH_NOT_ALLOWED', { path: shown, reason: "is a link that leads outside the loop's artifact directory" });
  const s = await stat(real);
  if (s.isDirectory()) {
    const dirents = await readdir(real, { withFileTypes: true });
    const entries = await Promise.all(
      dirents
        .filter((d) => d.isFile() || d.isDirectory())
        .sort((a, b) => a.name.localeCompare(b.name))
        .slice(0, 1000)
        .map(async (d) =>
          d.isDirectory() ? { name: d.name, type: 'dir' as const } : { name: d.name, type: 'file' as const, size: (await stat(join(real, d.name))).size },
        ),
    );
    return { kind: 'dir', path: real, entries };
  }
  if (!s.isFile()) throw apiError('ARTIFACT_NOT_FOUND', { path: shown });
  return { kind: 'file', path: real, size: s.size };
}

/** Opens the already-resolved file without following a link swapped in since the check. */
export async function openArtifact(path: string): Promise<FileHandle> {
  return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

const TEXT_TYPES: Record<string, string> = {
  '.md': 'text/markdown; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.out': 'text/plain; charset=utf-8',
  '.err': 'text/plain; charset=utf-8',
  '.diff': 'text/plain; charset=utf-8',
  '.patch': 'text/plain; charset=utf-8',
  '.ndjson': 'text/plain; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.yaml': 'text/plain; charset=utf-8',
  '.yml': 'text/plain; charset=utf-8',
};

/**
 * Content type by extension. Nothing is ever served as HTML or script: artifacts hold test output and
 * service logs, i.e. text an attacker may have influenced.
 */
export function artifactContentType(path: string): string {
  return TEXT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}
