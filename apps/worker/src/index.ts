export { loopPaths } from './paths.ts';
export { DEFAULT_RETENTION_DAYS, type PrunedLoop, pruneFinishedLoops, type RetentionReport } from './retention.ts';
export { type RunningWorker, startWorker } from './worker.ts';
