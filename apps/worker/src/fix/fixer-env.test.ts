import { configSecretNames, EnvironmentSchema } from '@greenloop/core';
import { describe, expect, it } from 'vitest';
import { buildFixerEnv, loopSecretNames } from './fixer-env.ts';

const base = {
  services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'] } }],
  tests: { command: ['npm', 'test'] },
  fixer: { command: ['agent'] },
};
// The fixer runs for staging; production's secrets are greenloop's all the same.
const config = {
  environments: {
    staging: EnvironmentSchema.parse({
      ...base,
      loop: { push: { remote: 'origin', tokenEnv: 'PUSH_TOKEN' } },
      notifications: { slack: { webhookUrlEnv: 'SLACK_HOOK' }, webhook: { urlEnv: 'HOOK_URL', secretEnv: 'HOOK_SECRET' } },
    }),
    production: EnvironmentSchema.parse({
      ...base,
      notifications: { slack: { botTokenEnv: 'PROD_SLACK_BOT', channel: 'C0123ABCD' } },
      pullRequest: { repository: 'acme/app', tokenEnv: 'PROD_GH_TOKEN' },
    }),
  },
};

describe('fixer environment', () => {
  it('names every *Env variable of every environment as a secret', () => {
    expect(configSecretNames(config)).toEqual(['HOOK_SECRET', 'HOOK_URL', 'PROD_GH_TOKEN', 'PROD_SLACK_BOT', 'PUSH_TOKEN', 'SLACK_HOOK']);
  });

  it("adds a project loop's credentials variable, so passEnv can never hand a fixer the remote's token", () => {
    const source = { project: 'shop', remote: 'https://git.example/shop.git', baseBranch: 'main', credentialsSecret: 'SHOP_GIT_TOKEN' };
    expect(loopSecretNames(config, { source })).toEqual([
      'HOOK_SECRET',
      'HOOK_URL',
      'PROD_GH_TOKEN',
      'PROD_SLACK_BOT',
      'PUSH_TOKEN',
      'SHOP_GIT_TOKEN',
      'SLACK_HOOK',
    ]);
    expect(loopSecretNames(config, {})).toEqual(configSecretNames(config));
    const { env, refused } = buildFixerEnv({
      fixer: { passEnv: ['SHOP_GIT_TOKEN'], env: {} },
      processEnv: { PATH: '/usr/bin', SHOP_GIT_TOKEN: 'ghs_leak' },
      files: { promptFile: '/p', clusterFile: '/c', worktree: '/w' },
      secretEnv: loopSecretNames(config, { source }),
    });
    expect(refused).toEqual(['SHOP_GIT_TOKEN']);
    expect(Object.values(env)).not.toContain('ghs_leak');
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
      PROD_SLACK_BOT: 'xoxb-leak-8',
      PROD_GH_TOKEN: 'ghp_leak-9',
    };
    const passEnv = Object.keys(processEnv).filter((k) => k !== 'PATH' && k !== 'HOME');
    const { env, refused } = buildFixerEnv({
      fixer: { passEnv, env: {} },
      processEnv,
      files: { promptFile: '/p', clusterFile: '/c', worktree: '/w' },
      secretEnv: configSecretNames(config),
    });
    expect(refused.sort()).toEqual(passEnv.filter((k) => k !== 'ANTHROPIC_API_KEY').sort());
    expect(env.ANTHROPIC_API_KEY).toBe('sk-ok');
    expect(JSON.stringify(env)).not.toContain('leak');
  });
});
