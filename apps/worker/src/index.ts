export { startWorker, type RunningWorker } from './worker.ts';
export { loopPaths } from './paths.ts';
