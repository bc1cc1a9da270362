import { urlValues } from '@greenloop/core';
import type { DeployRequest } from './types.ts';

/** Placeholder values every provider offers in a service's deploy command and env. */
export function deployValues(req: Pick<DeployRequest, 'commit' | 'service' | 'urls'>): Record<string, string> {
  return { commit: req.commit, shortCommit: req.commit.slice(0, 7), service: req.service.name, ...urlValues(req.urls ?? {}) };
}
