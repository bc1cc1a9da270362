import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { getEnvironment, parseConfig } from './load.ts';

function withSlack(slack: unknown) {
  return {
    version: 1,
    environments: {
      staging: {
        services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'] } }],
        tests: { command: ['npm', 'test'] },
        notifications: { slack },
      },
    },
  };
}

function issues(slack: unknown): string[] {
  try {
    parseConfig(withSlack(slack));
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('notifications.slack', () => {
  it('takes bot mode (token env var, channel id, mentions) and the incoming webhook as a fallback', () => {
    const slack = { botTokenEnv: 'SLACK_BOT_TOKEN', channel: 'C0123ABCD', mention: ['U024BE7LH', 'S0ONCALL1'], webhookUrlEnv: 'SLACK_WEBHOOK_URL' };
    expect(getEnvironment(parseConfig(withSlack(slack)), 'staging').notifications.slack).toEqual(slack);
    expect(issues({ webhookUrlEnv: 'SLACK_WEBHOOK_URL' })).toEqual([]);
  });

  it('says what is missing or malformed, by field', () => {
    expect(issues({})).toEqual([
      'environments.staging.notifications.slack: expected botTokenEnv (with channel) for a Slack app, or webhookUrlEnv for an incoming webhook',
    ]);
    expect(issues({ botTokenEnv: 'SLACK_BOT_TOKEN' })).toEqual([
      'environments.staging.notifications.slack.channel: botTokenEnv needs a channel id to post to, e.g. channel: C0123ABCD',
    ]);
    expect(issues({ botTokenEnv: 'T', channel: '#general' })[0]).toMatch(/^environments\.staging\.notifications\.slack\.channel: expected a Slack channel id/);
    const bad = issues({ botTokenEnv: 'T', channel: 'C0123ABCD', mention: ['@alice', '<!channel>'] });
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatch(/^environments\.staging\.notifications\.slack\.mention\[0\]: expected a Slack user id \(U…\/W…\) or user-group id \(S…\)/);
  });
});
