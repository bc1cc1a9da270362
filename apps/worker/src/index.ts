export { loopPaths } from './paths.ts';
export { type RunningWorker, startWorker } from './worker.ts';
