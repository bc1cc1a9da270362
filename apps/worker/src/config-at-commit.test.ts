import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type GreenloopConfig } from '@greenloop/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createCommitConfigLoader } from './config-at-commit.ts';
import { errorOf } from './test-support/error-of.ts';

const dir = mkdtempSync(join(tmpdir(), 'greenloop-config-at-commit-'));
const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir })
    .toString()
    .trim();
const yaml = (command: string) =>
  `version: 1\nenvironments:\n  e:\n    services: [{ name: api, deploy: { provider: local, command: ["node", "s.js"] } }]\n    tests: { command: ${command} }\n`;
function commit(text: string | undefined, message: string): string {
  if (text === undefined) rmSync(join(dir, 'greenloop.yaml'), { force: true });
  else writeFileSync(join(dir, 'greenloop.yaml'), text);
  git('add', '-A');
  git('commit', '-q', '--allow-empty', '-m', message);
  return git('rev-parse', 'HEAD');
}

git('init', '-q', '-b', 'main');
const none = commit(undefined, 'no config yet');
const one = commit(yaml('["node", "--test"]'), 'one');
const two = commit(yaml('["npm", "test"]'), 'two');
const bad = commit(yaml('"npm test"'), 'a shell string');
const broken = commit('environments: [\n', 'not YAML');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const commandOf = (c: GreenloopConfig) => c.environments.e?.tests.command;

describe('createCommitConfigLoader', () => {
  it('reads each commit’s committed file, whatever the working tree holds', async () => {
    writeFileSync(join(dir, 'greenloop.yaml'), yaml('["working", "tree"]'));
    const load = createCommitConfigLoader();
    expect(commandOf(await load(dir, one))).toEqual(['node', '--test']);
    expect(commandOf(await load(dir, two))).toEqual(['npm', 'test']);
  });

  it('parses a commit once and keeps the most recently used commits (onLoad sees each parse)', async () => {
    const loaded: string[] = [];
    const load = createCommitConfigLoader((c) => loaded.push(String(commandOf(c))), 2);
    const first = await load(dir, one);
    expect(await load(dir, one)).toBe(first);
    await load(dir, two);
    await load(dir, one); // one is now the most recent: two goes first
    await load(dir, bad).catch(() => undefined);
    expect(await load(dir, one)).toBe(first);
    await load(dir, two);
    expect(loaded).toEqual(['node,--test', 'npm,test', 'npm,test']);
  });

  it('names the field and the commit when the committed file is invalid, and the line when it is not YAML', async () => {
    const load = createCommitConfigLoader();
    const err = await errorOf(load(dir, bad));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(`greenloop.yaml at commit ${bad.slice(0, 12)} is invalid`);
    expect(err.message).toContain('environments.e.tests.command');
    const yamlErr = await errorOf(load(dir, broken));
    expect(yamlErr).toBeInstanceOf(ConfigError);
    expect(yamlErr.message).toMatch(new RegExp(`greenloop.yaml at commit ${broken.slice(0, 12)} is not valid YAML[\\s\\S]*line \\d+, column \\d+`));
  });

  it('says the file is missing at a commit without one, and is not a config error for an unknown commit', async () => {
    const load = createCommitConfigLoader();
    const missing = await errorOf(load(dir, none));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toBe(`greenloop.yaml at commit ${none.slice(0, 12)} does not exist`);
    const unknown = await load(dir, '0'.repeat(40)).then(
      () => new Error('expected a failure'),
      (err: unknown) => err as Error,
    );
    expect(unknown).not.toBeInstanceOf(ConfigError);
    expect(unknown.message).toMatch(/cannot read greenloop.yaml at commit 000000000000 from .*: fatal: /);
  });

  it('tries again after a git failure (not cached), but keeps a config error', async () => {
    const load = createCommitConfigLoader();
    await expect(load(dir, 'later')).rejects.not.toBeInstanceOf(ConfigError);
    await expect(load(dir, bad)).rejects.toBeInstanceOf(ConfigError);
    git('branch', 'later', one);
    expect(commandOf(await load(dir, 'later'))).toEqual(['node', '--test']);
    // The invalid commit is not read again: every call gets the one cached error.
    const [a, b] = await Promise.all([load(dir, bad).catch((e: unknown) => e), load(dir, bad).catch((e: unknown) => e)]);
    expect(a).toBe(b);
  });
});
