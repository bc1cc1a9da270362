import type { DeployedService } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import { withSuiteUrls } from './suite-placeholders.ts';

const svc = (service: string, url: string): DeployedService => ({ service, provider: 'local', url, revision: 'r', readyAt: '2026-12-02T00:00:00Z' });

describe('withSuiteUrls', () => {
  it('fills {{url.<service>}} in tests.env from GREENLOOP_URL_<SERVICE> (a proxy URL when one is set), keeping greenloop’s own variables', () => {
    const env: Record<string, string> = {
      BASE_URL: '{{url.front-web}}/api',
      GREENLOOP_RUN_ID: 'run-1',
      GREENLOOP_URL_FRONT_WEB: 'http://127.0.0.1:5000', // e.g. the recording proxy in front of the service
      GREENLOOP_URL_BACK: 'http://127.0.0.1:4100',
    };
    const testsEnv = { BASE_URL: '{{url.front-web}}/api', BACK: '{{url.back}}', GREENLOOP_RUN_ID: '{{url.back}}' };
    const values = withSuiteUrls(testsEnv, [svc('front-web', 'http://127.0.0.1:4000'), svc('back', 'http://127.0.0.1:4100')], env, { commit: 'abc' });
    expect(env.BASE_URL).toBe('http://127.0.0.1:5000/api');
    expect(env.GREENLOOP_RUN_ID).toBe('run-1');
    expect(values).toEqual({ commit: 'abc', 'url.front-web': 'http://127.0.0.1:5000', 'url.back': 'http://127.0.0.1:4100' });
  });
});
