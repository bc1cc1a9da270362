#!/usr/bin/env node
// API process entry point.
import { runService } from '@greenloop/core';
import { startApi } from './server.ts';

await runService('greenloop-api', process.env, async (env, log, redisUrl) => {
  if (!env.GREENLOOP_API_TOKEN) log.warn('GREENLOOP_API_TOKEN is not set: only tokens already stored in Redis can call the API');
  return await startApi(env, log, redisUrl);
});
