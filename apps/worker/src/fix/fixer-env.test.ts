import { EnvironmentSchema } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import { buildFixerEnv, configSecretNames } from './fixer-env.ts';

const environment = EnvironmentSchema.parse({
  services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'] } }],
  tests: { command: ['npm', 'test'] },
  fixer: { command: ['agent'] },
  loop: { push: { remote: 'origin', tokenEnv: 'PUSH_TOKEN' } },
  notifications: { slack: { webhookUrlEnv: 'SLACK_HOOK' }, webhook: { urlEnv: 'HOOK_URL', secretEnv: 'HOOK_SECRET' } },
});

describe('fixer environment', () => {
  it('names every *Env variable of the environment config as a secret', () => {
    expect(configSecretNames(environment)).toEqual(['HOOK_SECRET', 'HOOK_URL', 'PUSH_TOKEN', 'SLACK_HOOK']);
  });

  it('refuses greenloop variables, the variables greenloop reads and the config secrets, whatever passEnv says', () => {
    const processEnv = {
      PATH: '/usr/bin',
      HOME: '/home/g',
      ANTHROPIC_API_KEY: 'sk-ok',
      GREENLOOP_API_TOKEN: 'leak-1',
      REDIS_URL: 'redis://:leak-2@x',
      PORT: '7700',
      LOG_LEVEL: 'info',
      GOOGLE_APPLICATION_CREDENTIALS: '/leak-3.json',
      PUSH_TOKEN: 'leak-4',
      SLACK_HOOK: 'https://hooks.slack.com/services/leak-5',
      HOOK_URL: 'https://x/leak-6',
      HOOK_SECRET: 'leak-7',
    };
    const passEnv = Object.keys(processEnv).filter((k) => k !== 'PATH' && k !== 'HOME');
    const { env, refused } = buildFixerEnv({
      fixer: { passEnv, env: {} },
      processEnv,
      files: { promptFile: '/p', clusterFile: '/c', worktree: '/w' },
      secretEnv: configSecretNames(environment),
    });
    expect(refused.sort()).toEqual(passEnv.filter((k) => k !== 'ANTHROPIC_API_KEY').sort());
    expect(env.ANTHROPIC_API_KEY).toBe('sk-ok');
    expect(JSON.stringify(env)).not.toContain('leak');
  });
});
