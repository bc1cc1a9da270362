import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { glob } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { judgeFlakes, MemoryFlakeHistory } from '../analysis/flakes.ts';
import { parseJUnitFiles } from '../analysis/junit-parser.ts';
import { buildRerunArgv, type RerunIo, type RerunPlan, rerunFailedTests, rerunPlan } from './rerun.ts';

const run = promisify(execFile);

/** Runs reruns as real processes; a non-zero exit (failing tests) is expected. */
function io(cwd: string, env: Record<string, string>, argvs: string[][]): RerunIo {
  return {
    exec: async (argv, dir) => {
      mkdirSync(dir, { recursive: true });
      argvs.push(argv);
      const [program, ...args] = argv;
      await run(program as string, args, { cwd, env: { ...process.env, ...env } }).catch(() => undefined);
    },
    junitFiles: async (dir) => {
      const out: string[] = [];
      for await (const f of glob('**/*.xml', { cwd: dir })) out.push(join(dir, f));
      return out;
    },
    progress: () => {},
    warn: () => {},
  };
}

describe('reruns with real runners', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gl-rerun-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('pytest: reruns only the failed node ids, up to times, and judges flaky (passed on rerun 1) vs broken (failed 2 of 2)', async () => {
    mkdirSync(join(dir, 'tests'));
    writeFileSync(join(dir, 'tests', '__init__.py'), '');
    writeFileSync(
      join(dir, 'tests', 'test_api.py'),
      `import os, pathlib
COUNT = pathlib.Path(os.environ["COUNT_DIR"])

def bump(name):
    f = COUNT / name
    n = int(f.read_text()) if f.exists() else 0
    f.write_text(str(n + 1))
    return n

class TestUsers:
    def test_flaky(self):
        assert bump("flaky") >= 1, "fails on the first run only"

    def test_broken(self):
        bump("broken")
        assert 404 == 200

def test_ok():
    bump("ok")
`,
    );
    const env = { COUNT_DIR: dir, PYTHONDONTWRITEBYTECODE: '1' };
    const command = ['python3', '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '--junitxml={{artifacts}}/junit.xml'];
    mkdirSync(join(dir, 'first'));
    await run('python3', ['-m', 'pytest', '-p', 'no:cacheprovider', '-q', '--junitxml=first/junit.xml', 'tests'], {
      cwd: dir,
      env: { ...process.env, ...env },
    }).catch(() => undefined);
    const firstFiles = [join(dir, 'first', 'junit.xml')];
    const argvs: string[][] = [];
    const plan = rerunPlan({ command, rerun: { preset: 'pytest', times: 2 } }) as RerunPlan;
    const files = await rerunFailedTests(plan, firstFiles, {}, join(dir, 'rerun'), dir, io(dir, env, argvs));

    expect(argvs.map((a) => a.slice(7))).toEqual([
      ['tests/test_api.py::TestUsers::test_flaky', 'tests/test_api.py::TestUsers::test_broken'],
      ['tests/test_api.py::TestUsers::test_broken'],
    ]);
    expect(argvs[0]?.[6]).toBe(`--junitxml=${join(dir, 'rerun', '1')}/junit.xml`);
    const { readFileSync } = await import('node:fs');
    // test_ok ran once (first run only); broken ran 1 + 2 times.
    expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('1');
    expect(readFileSync(join(dir, 'broken'), 'utf8')).toBe('3');

    const first = (await parseJUnitFiles(firstFiles)).tests;
    const reruns = (await parseJUnitFiles(files)).tests;
    const verdict = await judgeFlakes(first, reruns, new MemoryFlakeHistory());
    expect(verdict.flaky).toEqual([expect.stringMatching(/tests\.test_api\.TestUsers › test_flaky$/)]);
    expect(verdict.confirmed).toEqual([expect.stringMatching(/tests\.test_api\.TestUsers › test_broken$/)]);
    expect(verdict.reasons[verdict.flaky[0] as string]).toBe('passed on rerun 1 of 1');
    expect(verdict.reasons[verdict.confirmed[0] as string]).toBe('failed 2 of 2 rerun(s)');
    // Three pytest start-ups: seconds each on a loaded 2-core machine.
  }, 90_000);

  it('node --test: --test-name-pattern reruns only the failed tests, nested in describe blocks too', async () => {
    writeFileSync(
      join(dir, 'api.test.mjs'),
      `import { describe, it } from 'node:test';
import assert from 'node:assert';
import { appendFileSync } from 'node:fs';
const ran = (n) => appendFileSync(process.env.RAN_FILE, n + '\\n');
describe('agents api', () => {
  it('lists agents', () => { ran('lists'); });
  describe('lifecycle', () => {
    it('starts an agent (v2)', () => { ran('starts'); assert.equal(404, 200); });
  });
});
it('top level ok', () => { ran('top'); });
`,
    );
    const ranFile = join(dir, 'ran.txt');
    const command = [process.execPath, '--test', '--test-reporter=junit', '--test-reporter-destination={{artifacts}}/junit.xml', 'api.test.mjs'];
    const plan: RerunPlan = { command, preset: 'node-test', times: 1 };
    mkdirSync(join(dir, 'first'));
    await run(process.execPath, ['--test', '--test-reporter=junit', '--test-reporter-destination=first/junit.xml', 'api.test.mjs'], {
      cwd: dir,
      env: { ...process.env, RAN_FILE: ranFile },
    }).catch(() => undefined);
    writeFileSync(ranFile, '');
    const argvs: string[][] = [];
    const files = await rerunFailedTests(plan, [join(dir, 'first', 'junit.xml')], {}, join(dir, 'rerun'), dir, io(dir, { RAN_FILE: ranFile }, argvs));
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(ranFile, 'utf8')).toBe('starts\n');
    expect(argvs[0]?.[2]).toBe('--test-name-pattern=starts an agent \\(v2\\)');
    const rerun = (await parseJUnitFiles(files)).tests.filter((t) => t.status !== 'skipped');
    expect(rerun.map((t) => [t.name, t.status])).toEqual([['starts an agent (v2)', 'failed']]);
  });

  it('vitest: reruns only the failed tests of their files, by their own titles inside describe blocks', async () => {
    // Globals: the file runs from a scratch directory where `import 'vitest'` would not resolve.
    writeFileSync(
      join(dir, 'api.test.mjs'),
      `import { appendFileSync } from 'node:fs';
const ran = (n) => appendFileSync(process.env.RAN_FILE, n + '\\n');
describe('agents api', () => {
  it('lists agents', () => { ran('lists'); });
  describe('lifecycle', () => {
    it('starts an agent (v2)', () => { ran('starts'); expect(404).toBe(200); });
  });
});
it('top level ok', () => { ran('top'); });
`,
    );
    writeFileSync(
      join(dir, 'other.test.mjs'),
      `import { appendFileSync } from 'node:fs';\nit('starts an agent (v2)', () => { appendFileSync(process.env.RAN_FILE, 'other\\n'); });\n`,
    );
    const vitest = join(import.meta.dirname, '..', '..', '..', '..', 'node_modules', '.bin', 'vitest');
    const ranFile = join(dir, 'ran.txt');
    const base = [vitest, 'run', '--globals', '--root', dir, '--reporter=junit'];
    await run(vitest, [...base.slice(1), '--outputFile=first/junit.xml'], { cwd: dir, env: { ...process.env, RAN_FILE: ranFile } }).catch(() => undefined);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(ranFile, 'utf8').split('\n').sort()).toEqual(['', 'lists', 'other', 'starts', 'top']);
    writeFileSync(ranFile, '');
    const argvs: string[][] = [];
    const plan: RerunPlan = { command: [...base, '--outputFile={{artifacts}}/junit.xml'], preset: 'vitest', times: 1 };
    const files = await rerunFailedTests(plan, [join(dir, 'first', 'junit.xml')], {}, join(dir, 'rerun'), dir, io(dir, { RAN_FILE: ranFile }, argvs));
    // Only the failed test ran again: not its neighbours, and not the same title in another file.
    expect(readFileSync(ranFile, 'utf8')).toBe('starts\n');
    expect(argvs[0]?.slice(base.length + 1)).toEqual(['api.test.mjs', '--testNamePattern', 'starts an agent \\(v2\\)']);
    const rerun = (await parseJUnitFiles(files)).tests.filter((t) => t.status !== 'skipped');
    expect(rerun.map((t) => [t.name, t.status])).toEqual([[expect.stringContaining('starts an agent (v2)'), 'failed']]);
  }, 90_000);
});

describe('the argv form (legacy placeholders)', () => {
  it('fills {{failedTestsPattern}} and {{failedTests}} and keeps its single rerun', () => {
    const plan = rerunPlan({ command: ['x'], rerun: ['npm', 'test', '--', '--test-name-pattern={{failedTestsPattern}}', '{{failedTests}}'] }) as RerunPlan;
    expect(plan.times).toBe(1);
    expect(
      buildRerunArgv(
        plan,
        [
          { classname: 'c', name: 'a.b' },
          { classname: 'c', name: 'd' },
        ],
        {},
      ),
    ).toEqual(['npm', 'test', '--', '--test-name-pattern=a\\.b|d', 'a.b,d']);
  });
});
