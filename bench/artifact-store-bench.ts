/**
 * Artifact store benchmark. Run: `node bench/artifact-store-bench.ts [MiB]` (default 256).
 *
 * Publishes one loop's evidence to Cloud Storage through the real `@google-cloud/storage` client — one
 * large file (resumable, 8 MiB chunks) and 200 small ones (simple uploads) — then streams the large file
 * back, and prints throughput and this process's peak RSS above its baseline: the figure that shows
 * uploads and downloads hold bounded memory, whatever the file size. The fake JSON API (which keeps the
 * objects in memory) runs in a child process so its memory is not counted. Loopback only: the figures
 * measure greenloop's and the client's overhead, not a network. `npm run bench -- artifacts` runs it with
 * 64 MiB (seconds, not minutes; the RSS figure is the point and does not grow with the size).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { FakeGcs } from '../packages/core/src/artifact-store/fake-gcs.ts';
import { GcsArtifactStore } from '../packages/core/src/artifact-store/gcs.ts';
import { figure } from './figure.ts';

/** Publishes and reads back `mib` MiB plus 200 small files; prints throughput and peak RSS. */
export async function main(mib = 64): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), '--fake'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (l) => resolve(Number(l))),
  );
  const dir = mkdtempSync(join(tmpdir(), 'gl-store-bench-'));
  try {
    mkdirSync(join(dir, 'cycle-1', 'small'), { recursive: true });
    const chunk = randomBytes(1024 * 1024);
    const big = join(dir, 'cycle-1', 'big.log');
    // Written a MiB at a time so the file itself never sits in this process's memory.
    for (let i = 0; i < mib; i++) writeFileSync(big, chunk, { flag: i === 0 ? 'w' : 'a' });
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, 'cycle-1', 'small', `f${i}.txt`), randomBytes(4096));
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const store = new GcsArtifactStore({ bucket: 'bench', apiEndpoint: `http://127.0.0.1:${port}` });
    let t = performance.now();
    const r = await store.syncLoop('loop-bench', dir);
    const upMs = performance.now() - t;
    const upPeak = peak;
    t = performance.now();
    let read = 0;
    await pipeline(
      await store.read('loop-bench', 'cycle-1/big.log'),
      new Writable({
        write(c: Buffer, _e, cb) {
          read += c.length;
          cb();
        },
      }),
    );
    const downMs = performance.now() - t;
    clearInterval(sampler);
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(`artifact store (GCS client → fake JSON API on loopback), load ${loadavg()[0]?.toFixed(2)} on this machine`);
    console.log(
      `  upload   ${r.uploaded} files, ${mb(r.bytes)} MiB in ${(upMs / 1000).toFixed(2)} s = ${(r.bytes / 1024 / 1024 / (upMs / 1000)).toFixed(1)} MiB/s; peak RSS +${mb(upPeak - base)} MiB`,
    );
    console.log(
      `  download ${mb(read)} MiB streamed in ${(downMs / 1000).toFixed(2)} s = ${(read / 1024 / 1024 / (downMs / 1000)).toFixed(1)} MiB/s; peak RSS +${mb(peak - base)} MiB`,
    );
    figure('artifacts.upload', r.bytes / 1024 / 1024 / (upMs / 1000), 'MiB/s');
    figure('artifacts.upload.rss', (upPeak - base) / 1024 / 1024, 'MiB');
    figure('artifacts.download', read / 1024 / 1024 / (downMs / 1000), 'MiB/s');
    figure('artifacts.download.rss', (peak - base) / 1024 / 1024, 'MiB');
  } finally {
    child.stdin?.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main && process.argv[2] === '--fake') {
  // The child: the fake JSON API, until the parent closes its stdin.
  const fake = await new FakeGcs('bench').start();
  process.stdout.write(`${fake.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void fake.stop().then(() => process.exit(0)));
} else if (import.meta.main) await main(Number(process.argv[2] ?? 256));
