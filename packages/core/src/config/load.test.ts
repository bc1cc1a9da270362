import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { getEnvironment, loadConfig, parseConfig } from './load.ts';

const minimal = {
  version: 1,
  environments: {
    staging: {
      services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'] } }],
      tests: { command: ['npm', 'test'] },
    },
  },
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills defaults and parses durations', () => {
    const cfg = parseConfig({ ...minimal, environments: { staging: { ...minimal.environments.staging, loop: { maxDuration: '2h' } } } });
    const env = getEnvironment(cfg, 'staging');
    expect(env.loop.maxDuration).toBe(7_200_000);
    expect(env.loop.maxCycles).toBe(10);
    expect(env.tests.timeout).toBe(1_800_000);
    expect(env.logs.provider).toBe('local');
    expect(env.services[0]?.healthPath).toBe('/healthz');
  });

  it('names the path and what was expected when a command is a shell string', () => {
    const bad = structuredClone(minimal) as { environments: { staging: { tests: { command: unknown } } } };
    bad.environments.staging.tests.command = 'npm test';
    const err = errorOf(() => parseConfig(bad));
    expect(err.issues).toContain('environments.staging.tests.command: expected an array of strings (argv), e.g. ["npm", "test"]');
  });

  it('rejects unknown keys, bad durations and unknown providers with their paths', () => {
    const bad = structuredClone(minimal) as Record<string, unknown> & typeof minimal;
    const env = bad.environments.staging as Record<string, unknown>;
    env.tets = {};
    env.loop = { maxDuration: 'forever' };
    (env.services as Record<string, unknown>[])[0] = { name: 'api', deploy: { provider: 'heroku' } };
    const err = errorOf(() => parseConfig(bad));
    const text = err.issues.join('\n');
    expect(text).toMatch(/environments\.staging: Unrecognized key: "tets"/);
    expect(text).toMatch(/environments\.staging\.loop\.maxDuration: expected a duration like "30s".*"forever"/);
    expect(text).toMatch(/environments\.staging\.services\[0\]\.deploy\.provider: expected deploy\.provider to be one of/);
  });

  it('reports YAML syntax errors with line numbers, and unknown environments with the known ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-config-'));
    writeFileSync(join(dir, 'greenloop.yaml'), 'version: 1\nenvironments:\n  staging: [unclosed\n');
    await expect(loadConfig(join(dir, 'greenloop.yaml'))).rejects.toThrow(/not valid YAML[\s\S]*line \d+/);
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read .*ENOENT/);
    expect(() => getEnvironment(parseConfig(minimal), 'prod')).toThrow('unknown environment "prod"; configured: staging');
  });
});
