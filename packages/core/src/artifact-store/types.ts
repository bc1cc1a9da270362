import type { Readable } from 'node:stream';
import { GreenloopError } from '../errors.ts';

/** One entry of a directory listing: a file (with its size) or a sub-directory. */
export interface ArtifactEntry {
  name: string;
  type: 'file' | 'dir';
  size?: number;
}

/** What an upload pass did: files sent, files the store already had, bytes sent. */
export interface ArtifactSyncReport {
  uploaded: number;
  unchanged: number;
  bytes: number;
  /** Files left out because their path holds a known secret (never put a secret in an object name). */
  refused: string[];
}

/**
 * Where a loop's evidence lives once a stage has ended: the worker writes files on its own disk under
 * `<home>/artifacts/<loop>/` (commands need real paths), `syncLoop` publishes them at the end of each
 * stage, and the API reads them back through `stat`/`list`/`read`. Keys are `<loop>/<relative path>`
 * (checked by `artifactRelPath`), so nothing can address another loop's evidence.
 */
export interface ArtifactStore {
  readonly kind: 'local' | 'gcs';
  /** A short description for logs and `/health` (`local:/var/greenloop/artifacts`, `gs://bucket/prefix/`). */
  readonly location: string;
  /** Publishes the loop's local files that the store does not hold yet (same size and mtime = held). */
  syncLoop(loopId: string, localDir: string): Promise<ArtifactSyncReport>;
  /** The file at `rel`, or undefined when there is none (a directory is not a file). */
  stat(loopId: string, rel: string): Promise<{ size: number } | undefined>;
  /** The entries directly under directory `rel` ('' = the loop's root), or undefined when it is empty or absent. */
  list(loopId: string, rel: string): Promise<ArtifactEntry[] | undefined>;
  /** Streams the file at `rel` (bounded memory); rejects with ARTIFACT_NOT_FOUND when it is gone. */
  read(loopId: string, rel: string): Promise<Readable>;
  /** Removes everything the store holds for the loop; `dryRun` only counts. */
  deleteLoop(loopId: string, opts?: { dryRun?: boolean }): Promise<{ objects: number; bytes: number }>;
  close(): Promise<void>;
}

/** Listings stop here: a directory holds at most this many entries in an answer. */
export const MAX_LISTED_ENTRIES = 1000;

/**
 * Checks a path relative to a loop's artifact root and returns it normalized (no leading `./`, no
 * empty segments, no trailing slash). NUL bytes, absolute paths, drive letters, backslashes and `..`
 * segments are refused with ARTIFACT_PATH_NOT_ALLOWED (a 400 at the API): a key can never leave the
 * loop's prefix.
 */
export function artifactRelPath(rel: string): string {
  const shown = rel.length > 200 ? `${rel.slice(0, 200)}…` : rel;
  const refuse = (reason: string) =>
    new GreenloopError('ARTIFACT_PATH_NOT_ALLOWED', `artifact path "${shown}" ${reason}`, {
      details: { path: shown, reason },
      hint: "give a path relative to the loop's artifact directory, e.g. cycle-1/report.md",
    });
  if (rel.includes('\0')) throw refuse('contains a NUL byte');
  if (rel.startsWith('/') || rel.startsWith('\\') || /^[a-zA-Z]:/.test(rel)) throw refuse("must be relative to the loop's artifact directory");
  if (rel.includes('\\')) throw refuse('contains a backslash');
  const segments = rel.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) throw refuse('".." segments are not allowed');
  return segments.join('/');
}

/** The loop ids the store accepts as the first key segment (the API's LOOP_ID_PATTERN is stricter). */
export function checkLoopId(loopId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(loopId) || loopId.includes('..'))
    throw new GreenloopError('ARTIFACT_PATH_NOT_ALLOWED', `loop id "${loopId.slice(0, 64)}" cannot name an artifact prefix`);
  return loopId;
}

export function artifactNotFound(rel: string): GreenloopError {
  return new GreenloopError('ARTIFACT_NOT_FOUND', `no artifact at "${rel}"`);
}
