import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IdempotencyStrategy, Storage, type StorageOptions } from '@google-cloud/storage';
import { GreenloopError } from '../errors.ts';
import { redact } from '../redact.ts';
import { type LocalFile, listLocalFiles, openNoFollow } from './local-files.ts';
import {
  type ArtifactEntry,
  type ArtifactStore,
  type ArtifactSyncReport,
  artifactNotFound,
  artifactRelPath,
  checkLoopId,
  MAX_LISTED_ENTRIES,
} from './types.ts';

export interface GcsArtifactStoreOptions {
  bucket: string;
  /** Object name prefix, e.g. `greenloop/` (normalized to end with one `/`, or empty). */
  prefix?: string;
  /**
   * Only for tests and emulators: the JSON API's base URL (`http://127.0.0.1:<port>`). Unset, the client
   * talks to storage.googleapis.com with Application Default Credentials. With it set the client sends no
   * credentials (its `useAuthWithCustomEndpoint` default).
   */
  apiEndpoint?: string;
  /** The client's retry settings (tests shorten the delays); retries are always on, see below. */
  retry?: Pick<NonNullable<StorageOptions['retryOptions']>, 'maxRetries' | 'maxRetryDelay' | 'retryDelayMultiplier' | 'totalTimeout'>;
  /** Files at least this big go up as resumable uploads in `chunkSize` pieces (default 8 MiB). */
  resumableThreshold?: number;
  /** Resumable chunk size, a multiple of 256 KiB (default 8 MiB): the most an upload holds in memory. */
  chunkSize?: number;
  /** Objects per list page (default 1000). */
  pageSize?: number;
  /** Parallel uploads and deletes (default 4). */
  concurrency?: number;
  /** Whole-upload attempts: a failed upload is sent again from the file on disk (default 3). */
  uploadAttempts?: number;
}

interface RemoteObject {
  size: number;
  mtime: string | undefined;
}

/** The custom metadata key holding the local file's mtime, so a later pass can tell an unchanged file. */
const MTIME_KEY = 'greenloop-mtime';

function objectSize(size: string | number | undefined): number {
  return typeof size === 'number' ? size : Number(size ?? 0);
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

/**
 * Evidence in a Google Cloud Storage bucket, through `@google-cloud/storage` (the JSON API): objects are
 * `<prefix><loop>/<relative path>`. Uploads stream from disk (simple uploads, resumable ones from
 * `resumableThreshold` on, in `chunkSize` pieces); downloads stream. Every call is idempotent here
 * (an upload rewrites the same bytes, a delete of a deleted object is done), so the client retries all
 * of them on 408/429/5xx and connection errors (`IdempotencyStrategy.RetryAlways`), and a failed upload
 * is sent again from the file. Object names never hold a known secret; custom metadata holds only the
 * file's mtime.
 */
export class GcsArtifactStore implements ArtifactStore {
  readonly kind = 'gcs' as const;
  readonly location: string;
  readonly storage: Storage;
  /** Downloads go through a client with its retries off: greenloop retries them (see `read`). */
  private readonly downloads: Storage;
  private readonly retry: { maxRetries: number; maxRetryDelayMs: number };
  readonly bucketName: string;
  readonly prefix: string;
  private readonly resumableThreshold: number;
  private readonly chunkSize: number;
  private readonly pageSize: number;
  private readonly concurrency: number;
  private readonly uploadAttempts: number;

  constructor(opts: GcsArtifactStoreOptions) {
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? `${prefix}/` : '';
    this.bucketName = opts.bucket;
    this.location = `gs://${opts.bucket}/${this.prefix}`;
    const endpoint = opts.apiEndpoint ? { apiEndpoint: opts.apiEndpoint } : {};
    this.storage = new Storage({ ...endpoint, retryOptions: { autoRetry: true, idempotencyStrategy: IdempotencyStrategy.RetryAlways, ...opts.retry } });
    this.downloads = new Storage({ ...endpoint, retryOptions: { autoRetry: false, maxRetries: 0 } });
    this.retry = { maxRetries: opts.retry?.maxRetries ?? 3, maxRetryDelayMs: (opts.retry?.maxRetryDelay ?? 64) * 1000 };
    this.resumableThreshold = opts.resumableThreshold ?? 8 * 1024 * 1024;
    this.chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
    this.pageSize = opts.pageSize ?? 1000;
    this.concurrency = opts.concurrency ?? 4;
    this.uploadAttempts = opts.uploadAttempts ?? 3;
  }

  private get bucket() {
    return this.storage.bucket(this.bucketName);
  }

  private loopPrefix(loopId: string): string {
    return `${this.prefix}${checkLoopId(loopId)}/`;
  }

  private async remoteObjects(prefix: string): Promise<Map<string, RemoteObject>> {
    const out = new Map<string, RemoteObject>();
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.call('list objects', () =>
        this.bucket.getFiles({ prefix, autoPaginate: false, maxResults: this.pageSize, ...(pageToken ? { pageToken } : {}) }),
      );
      for (const f of files) {
        const mtime = f.metadata.metadata?.[MTIME_KEY];
        out.set(f.name, { size: objectSize(f.metadata.size), mtime: typeof mtime === 'string' ? mtime : undefined });
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    return out;
  }

  async syncLoop(loopId: string, localDir: string): Promise<ArtifactSyncReport> {
    const base = this.loopPrefix(loopId);
    const report: ArtifactSyncReport = { uploaded: 0, unchanged: 0, bytes: 0, refused: [] };
    const [files, remote] = await Promise.all([listLocalFiles(localDir), this.remoteObjects(base)]);
    const todo: LocalFile[] = [];
    for (const f of files) {
      if (redact(f.rel) !== f.rel) {
        report.refused.push(redact(f.rel));
        continue;
      }
      const held = remote.get(base + f.rel);
      if (held && held.size === f.size && held.mtime === String(f.mtimeMs)) report.unchanged++;
      else todo.push(f);
    }
    await inParallel(todo, this.concurrency, async (f) => {
      if (!(await this.upload(base + f.rel, f))) return;
      report.uploaded++;
      report.bytes += f.size;
    });
    return report;
  }

  /** Sends one file; false when it vanished since it was listed (a scratch file some process removed). */
  private async upload(name: string, f: LocalFile): Promise<boolean> {
    const resumable = f.size >= this.resumableThreshold;
    for (let attempt = 1; ; attempt++) {
      const handle = await openNoFollow(f.path).catch((err: NodeJS.ErrnoException) => {
        // Gone, or swapped for a link since it was listed: not evidence any more.
        if (err.code === 'ENOENT' || err.code === 'ELOOP') return undefined;
        throw err;
      });
      if (!handle) return false;
      try {
        await pipeline(
          handle.createReadStream(),
          this.bucket.file(name).createWriteStream({
            resumable,
            ...(resumable ? { chunkSize: this.chunkSize } : {}),
            metadata: { contentType: 'application/octet-stream', metadata: { [MTIME_KEY]: String(f.mtimeMs) } },
          }),
        );
        return true;
      } catch (err) {
        if (attempt >= this.uploadAttempts || !retryableStatus(err)) throw storageError(`upload ${name}`, err);
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
  }

  async stat(loopId: string, rel: string): Promise<{ size: number } | undefined> {
    const clean = artifactRelPath(rel);
    if (!clean) return undefined;
    try {
      const [meta] = await this.call('read object metadata', () => this.bucket.file(this.loopPrefix(loopId) + clean).getMetadata(), true);
      return { size: objectSize(meta.size) };
    } catch (err) {
      if (err instanceof GreenloopError && err.code === 'ARTIFACT_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async list(loopId: string, rel: string): Promise<ArtifactEntry[] | undefined> {
    const clean = artifactRelPath(rel);
    const prefix = this.loopPrefix(loopId) + (clean ? `${clean}/` : '');
    const entries: ArtifactEntry[] = [];
    let pageToken: string | undefined;
    do {
      const [files, next, raw] = await this.call('list objects', () =>
        this.bucket.getFiles({ prefix, delimiter: '/', autoPaginate: false, maxResults: this.pageSize, ...(pageToken ? { pageToken } : {}) }),
      );
      for (const p of (raw as { prefixes?: string[] } | undefined)?.prefixes ?? []) entries.push({ name: p.slice(prefix.length, -1), type: 'dir' });
      for (const f of files) entries.push({ name: f.name.slice(prefix.length), type: 'file', size: objectSize(f.metadata.size) });
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken && entries.length < MAX_LISTED_ENTRIES);
    if (!entries.length) return undefined;
    return entries.sort((a, b) => a.name.localeCompare(b.name)).slice(0, MAX_LISTED_ENTRIES);
  }

  /**
   * Streams an object. The client's own stream retry is off for downloads: when it drops a 5xx answer to
   * try again, teeny-request pipes into the destroyed stream and throws an uncaught
   * ERR_STREAM_UNABLE_TO_PIPE (googleapis/google-cloud-node#8670, open), which would take the API process
   * down. So each attempt is a fresh stream that waits for its answer, and 408/429/5xx are retried here.
   * (The client is pinned to 7.x: 8.x warns MaxListenersExceededWarning on every streamed download,
   * googleapis/google-cloud-node#9185, which would flood the API's log.)
   */
  async read(loopId: string, rel: string): Promise<Readable> {
    const clean = artifactRelPath(rel);
    const name = this.loopPrefix(loopId) + clean;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.openDownload(name);
      } catch (err) {
        if (statusOf(err) === 404) throw artifactNotFound(clean);
        if (attempt >= this.retry.maxRetries || !retryableStatus(err)) throw storageError(`download ${clean}`, err);
        await new Promise((r) => setTimeout(r, Math.min(2 ** attempt * 200 + Math.random() * 100, this.retry.maxRetryDelayMs)));
      }
    }
  }

  private openDownload(name: string): Promise<Readable> {
    const stream = this.downloads.bucket(this.bucketName).file(name).createReadStream();
    // The request starts on the first read; wait for the answer so a failed one is an error here.
    return new Promise<Readable>((resolve, reject) => {
      stream.on('response', (res: { statusCode?: number }) => {
        if ((res.statusCode ?? 500) < 300) resolve(stream);
      });
      stream.once('error', reject);
      stream.read(0);
    });
  }

  async deleteLoop(loopId: string, opts: { dryRun?: boolean } = {}): Promise<{ objects: number; bytes: number }> {
    const remote = await this.remoteObjects(this.loopPrefix(loopId));
    let bytes = 0;
    for (const o of remote.values()) bytes += o.size;
    if (!opts.dryRun)
      await inParallel([...remote.keys()], this.concurrency, async (name) => {
        try {
          await this.call(`delete ${name}`, () => this.bucket.file(name).delete(), true);
        } catch (err) {
          if (!(err instanceof GreenloopError && err.code === 'ARTIFACT_NOT_FOUND')) throw err;
        }
      });
    return { objects: remote.size, bytes };
  }

  private async call<T>(action: string, fn: () => Promise<T>, notFoundIsMissing = false): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (notFoundIsMissing && statusOf(err) === 404) throw new GreenloopError('ARTIFACT_NOT_FOUND', `${action}: not found`);
      throw storageError(action, err);
    }
  }

  async close(): Promise<void> {}
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  if (typeof code === 'string' && /^[0-9]{3}$/.test(code)) return Number(code);
  return undefined;
}

function retryableStatus(err: unknown): boolean {
  const s = statusOf(err);
  return s === undefined || s === 408 || s === 429 || s >= 500;
}

/** A Cloud Storage failure as greenloop reports it: the status decides whether the job retries. */
export function storageError(action: string, err: unknown): GreenloopError {
  const status = statusOf(err);
  const message = redact(err instanceof Error ? err.message : String(err)).slice(0, 500);
  if (status === 401 || status === 403)
    return new GreenloopError('ARTIFACT_STORE_PERMISSION_DENIED', `Cloud Storage refused to ${action} (HTTP ${status}): ${message}`, {
      hint: 'grant the service account roles/storage.objectAdmin (worker) or roles/storage.objectViewer (API) on the bucket; see docs/google-cloud.md',
    });
  if (status === 404)
    return new GreenloopError('ARTIFACT_STORE_NOT_FOUND', `Cloud Storage: could not ${action}: the bucket or object does not exist (${message})`, {
      hint: 'check GREENLOOP_ARTIFACTS_BUCKET names an existing bucket',
    });
  return new GreenloopError('ARTIFACT_STORE_FAILED', `Cloud Storage: could not ${action}${status ? ` (HTTP ${status})` : ''}: ${message}`, {
    retryable: retryableStatus(err),
    hint: 'usually transient (the client already retried); check status.cloud.google.com if it persists',
  });
}
