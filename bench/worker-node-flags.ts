// The node flags the worker process is started with (apps/worker's `npm start`, docker-compose.yml, the
// README's `node … apps/worker/src/main.ts`), so benchmarks run greenloop's side the way it runs.
// --max-semi-space-size=8: analysis allocates fast (10,000 failures of a 100,000-test file); with V8's
// default young generation the heap keeps ~100 MB of it resident. Measured on the ingest+cluster of
// bench/junit-bench.ts: peak RSS 287 → 180 MB, CPU time unchanged (0.88 → 0.82 s user).
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
