import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '@greenloop/core';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli.ts';

const root = mkdtempSync(join(tmpdir(), 'gl-init-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A scratch project with these files. */
function project(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

async function init(cwd: string, argv: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli({
    argv: ['init', ...argv],
    processEnv: {},
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTTY: false,
    signal: new AbortController().signal,
    cwd,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const pkg = (over: Record<string, unknown>) => JSON.stringify({ name: 'x', scripts: { start: 'node src/server.js' }, ...over });

describe('greenloop init', () => {
  it.each([
    [
      'node-vitest',
      { 'package.json': pkg({ devDependencies: { vitest: '^4' } }), 'src/server.js': "if (req.url === '/healthz') ok()" },
      { start: ['node', 'src/server.js'], healthPath: '/healthz', testsHead: ['npx', '--no', 'vitest', 'run'], preset: 'vitest' },
    ],
    [
      'node-jest',
      { 'package.json': pkg({ devDependencies: { jest: '^29', 'jest-junit': '^16' } }), 'src/server.js': "app.get('/health', h)" },
      { start: ['node', 'src/server.js'], healthPath: '/health', testsHead: ['npx', '--no', 'jest', '--ci'], preset: 'jest' },
    ],
    [
      'node-playwright',
      { 'package.json': pkg({ scripts: { start: 'tsx server.ts' }, devDependencies: { '@playwright/test': '^1' } }) },
      { start: ['npm', 'start', '--silent'], healthPath: '/', testsHead: ['npx', '--no', 'playwright', 'test'], preset: 'playwright' },
    ],
    [
      'node-test',
      { 'package.json': pkg({ scripts: { start: 'node server.js', test: 'node --test e2e/' } }), 'server.js': '"/ready"' },
      { start: ['node', 'server.js'], healthPath: '/ready', testsHead: ['node', '--test', '--test-reporter=junit'], preset: 'node-test' },
    ],
    [
      'python-pytest',
      { 'pyproject.toml': '[project]\nname = "x"\n', 'app.py': "if self.path == '/health':", 'tests/test_app.py': "'/healthz'" },
      { start: ['python3', 'app.py'], healthPath: '/health', testsHead: ['python3', '-m', 'pytest'], preset: 'pytest' },
    ],
    [
      'python-stdlib',
      { 'app.py': "if self.path == '/health':", 'tests/test_app.py': 'def test_x(): pass' },
      { start: ['python3', 'app.py'], healthPath: '/health', testsHead: ['python3', '-m', 'pytest'], preset: 'pytest' },
    ],
    [
      'go-service',
      { 'go.mod': 'module x\n\ngo 1.19\n', 'main.go': 'http.HandleFunc("/healthz", h)' },
      { start: ['go', 'run', '.'], healthPath: '/healthz', testsHead: ['gotestsum', '--junitfile', '{{artifacts}}/junit.xml', '--', '-count=1'], preset: 'go' },
    ],
    [
      'ruby-rspec',
      { Gemfile: "gem 'rspec'\n", 'app.rb': "get '/status' do" },
      { start: ['ruby', 'app.rb'], healthPath: '/status', testsHead: ['rspec'], preset: undefined },
    ],
    ['maven', { 'pom.xml': '<project/>' }, { start: ['mvn', '-q', 'spring-boot:run'], healthPath: '/', testsHead: ['mvn', '-q', 'verify'], preset: 'maven' }],
  ])('%s: writes a commented greenloop.yaml that the config loader accepts', async (name, files, want) => {
    const dir = project(name, files);
    const r = await init(dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, 'greenloop.yaml'), 'utf8');
    expect(text).toMatch(/^# greenloop\.yaml — written by `greenloop init`/);
    const config = await loadConfig(join(dir, 'greenloop.yaml'));
    const env = config.environments.staging;
    expect(env?.services[0]?.deploy).toMatchObject({ provider: 'local', command: want.start });
    expect(env?.services[0]?.healthPath).toBe(want.healthPath);
    expect(env?.tests.command.slice(0, want.testsHead.length)).toEqual(want.testsHead);
    expect(env?.tests.env.BASE_URL).toBe(`{{url.${name}}}`);
    const rerun = env?.tests.rerun;
    expect(rerun && !Array.isArray(rerun) ? rerun.preset : undefined).toBe(want.preset);
  });

  it("says to keep greenloop's home out of git, unless .gitignore already does", async () => {
    const hint = /echo \.greenloop\/ >> \.gitignore/;
    expect((await init(project('no-ignore', { 'go.mod': 'module x\n' }))).out).toMatch(hint);
    expect((await init(project('ignored', { 'go.mod': 'module x\n', '.gitignore': 'node_modules\n.greenloop/\n' }))).out).not.toMatch(hint);
  });

  it('refuses to overwrite without --force, names the environment with --env, and says when it finds nothing', async () => {
    const dir = project('twice', { 'go.mod': 'module x\n' });
    expect((await init(dir)).code).toBe(0);
    const again = await init(dir);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already exists');
    expect((await init(dir, ['--force', '--env', 'qa'])).code).toBe(0);
    expect(Object.keys((await loadConfig(join(dir, 'greenloop.yaml'))).environments)).toEqual(['qa']);
    const empty = await init(project('empty', { 'README.md': 'hi' }));
    expect(empty.code).toBe(1);
    expect(empty.err).toContain('nothing greenloop knows here');
  });
});
