#!/usr/bin/env node
// Worker process entry point. Test suites and fixers get allow-listed parts of this process's environment.
import { runService } from '@greenloop/core';
import { startWorker } from './worker.ts';

await runService('greenloop-worker', process.env, (env, log, redisUrl) => startWorker(env, log, redisUrl, { ...process.env }));
