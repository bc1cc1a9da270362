import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { getEnvironment, parseConfig } from './load.ts';

const withTests = (tests: Record<string, unknown>) => ({
  version: 1,
  environments: { staging: { services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'] } }], tests } },
});

function issues(tests: Record<string, unknown>): string[] {
  try {
    parseConfig(withTests(tests));
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('config: tests.shards', () => {
  it('defaults to one shard with failing tests first, and takes a number or "auto"', () => {
    const env = getEnvironment(parseConfig(withTests({ command: ['npm', 'test'] })), 'staging');
    expect(env.tests).toMatchObject({ shards: 1, failedFirst: true });
    expect(issues({ command: ['npx', 'playwright', 'test', '--shard={{shard}}/{{shardCount}}'], shards: 'auto' })).toEqual([]);
    expect(issues({ command: ['pytest', '{{shardFiles}}'], files: ['tests/test_*.py'], shards: 4 })).toEqual([]);
  });

  it('refuses shards with a command that takes no shard, saying what to add', () => {
    expect(issues({ command: ['npm', 'test'], shards: 4 }).join('\n')).toMatch(
      /environments\.staging\.tests\.command: tests\.shards is 4 but tests\.command takes no shard: add "--shard=\{\{shard\}\}\/\{\{shardCount\}\}"/,
    );
  });

  it('refuses a JUnit path shared by every shard', () => {
    expect(issues({ command: ['x', '--shard={{shard}}/{{shardCount}}'], junit: ['reports/junit.xml'], shards: 2 }).join('\n')).toMatch(
      /environments\.staging\.tests\.junit: with tests\.shards or \{\{shardFiles\}\} each run writes its own JUnit: put every tests\.junit glob under \{\{artifacts\}\}/,
    );
    expect(issues({ command: ['x'], junit: ['reports/junit.xml'] })).toEqual([]);
  });

  it('refuses {{shardFiles}} without tests.files, and a shard count out of range', () => {
    expect(issues({ command: ['pytest', '{{shardFiles}}'] }).join('\n')).toMatch(
      /environments\.staging\.tests\.files: tests\.command uses \{\{shardFiles\}\}: list the suite's files/,
    );
    expect(issues({ command: ['x', '{{shard}}'], shards: 0 }).join('\n')).toMatch(/environments\.staging\.tests\.shards/);
    expect(issues({ command: ['x', '{{shard}}'], shards: 'many' }).join('\n')).toMatch(/environments\.staging\.tests\.shards/);
  });
});
