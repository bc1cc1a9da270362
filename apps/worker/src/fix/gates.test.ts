import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../git/repo.ts';
import { type FileChange, PARSEABLE_DIFF_ARGS, parseDiff } from './diff.ts';
import {
  assertionsKeptGate,
  diffGates,
  isTestPath,
  matchesAnyGlob,
  noSkipMarkersGate,
  protectedPathsGate,
  rejectionReason,
  testNumbersKeptGate,
  testsKeptGate,
} from './gates.ts';
import { makeRepo, type TestRepo } from './testing.ts';

const modified = (path: string, removed: string[], added: string[]): FileChange => ({ path, status: 'modified', binary: false, hunks: [{ removed, added }] });

describe('parseDiff on real git output', () => {
  let t: TestRepo;
  beforeEach(async () => {
    t = await makeRepo();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('reads statuses, lines and unusual path names', async () => {
    const g = git(t.repo);
    const write = async (p: string, text: string) => {
      await mkdir(dirname(join(t.repo, p)), { recursive: true });
      await writeFile(join(t.repo, p), text);
    };
    await write('src/a.js', 'export const a = () => 2;\n// ---- not a header\n');
    await write('src/with space/é "quoted".js', 'x\n');
    await write('bin.dat', Buffer.from([0, 1, 2, 3]).toString('latin1'));
    await g.raw(['rm', '-q', 'test/a.test.js']);
    await g.raw(['add', '-A']);
    const tree = (await g.raw(['write-tree'])).trim();
    const changes = parseDiff(await g.raw([...PARSEABLE_DIFF_ARGS, t.base, tree]));
    const byPath = new Map(changes.map((c) => [c.path, c]));
    expect([...byPath.keys()].sort()).toEqual(['bin.dat', 'src/a.js', 'src/with space/é "quoted".js', 'test/a.test.js']);
    expect(byPath.get('src/a.js')).toMatchObject({
      status: 'modified',
      hunks: [{ removed: ['export const a = () => 1;'], added: ['export const a = () => 2;', '// ---- not a header'] }],
    });
    expect(byPath.get('test/a.test.js')?.status).toBe('deleted');
    expect(byPath.get('test/a.test.js')?.hunks[0]?.removed).toContain('  expect(a()).toBe(2);');
    expect(byPath.get('src/with space/é "quoted".js')?.status).toBe('added');
    expect(byPath.get('bin.dat')).toMatchObject({ status: 'added', binary: true });
  });
});

describe('test paths and globs', () => {
  it('recognises test files across ecosystems', () => {
    for (const p of [
      'test/x.js',
      'a/tests/x.py',
      'src/x.test.ts',
      'src/x.spec.tsx',
      'pkg/x_test.go',
      'tests_dir/test_api.py',
      'app/x_test.py',
      'src/FooTest.java',
      'conftest.py',
      'vitest.config.ts',
      'e2e/login.ts',
      'src/__tests__/x.js',
    ]) {
      expect(isTestPath(p), p).toBe(true);
    }
    for (const p of ['src/x.ts', 'src/testing-utils.ts', 'src/contest.py', 'latest/x.js', 'src/attestation.go']) {
      expect(isTestPath(p), p).toBe(false);
    }
  });

  it('matches protected globs from the repository root', () => {
    const globs = ['test/**', '**/*.test.*', '.github/**', 'greenloop.yaml', 'dist/'];
    expect(matchesAnyGlob('test/deep/x.js', globs)).toBe('test/**');
    expect(matchesAnyGlob('src/a/b.test.ts', globs)).toBe('**/*.test.*');
    expect(matchesAnyGlob('.github/workflows/ci.yml', globs)).toBe('.github/**');
    expect(matchesAnyGlob('greenloop.yaml', globs)).toBe('greenloop.yaml');
    expect(matchesAnyGlob('dist/x/y.js', globs)).toBe('dist/');
    expect(matchesAnyGlob('sub/greenloop.yaml', globs)).toBeUndefined();
    expect(matchesAnyGlob('src/app.ts', globs)).toBeUndefined();
  });

  it('checks both sides of a move', () => {
    const moved: FileChange[] = [
      { path: 'test/a.test.js', status: 'deleted', binary: false, hunks: [] },
      { path: 'src/a.moved.js', status: 'added', binary: false, hunks: [] },
    ];
    const gate = protectedPathsGate(moved, ['test/**']);
    expect(gate.passed).toBe(false);
    expect(gate.reason).toContain('test/a.test.js (deleted');
  });
});

describe('anti-cheat gates', () => {
  it('flags deleted test files and removed test cases, not renamed ones', () => {
    expect(testsKeptGate([{ path: 'tests/test_api.py', status: 'deleted', binary: false, hunks: [] }]).reason).toContain('deleted test file tests/test_api.py');
    expect(
      testsKeptGate([modified('pkg/x_test.go', ['func TestA(t *testing.T) {', 'func TestB(t *testing.T) {'], ['func TestA(t *testing.T) {'])]).reason,
    ).toContain('removed 1 test case(s) from pkg/x_test.go');
    expect(testsKeptGate([modified('src/x.test.ts', ["it('old name', () => {"], ["it('new name', () => {"])]).passed).toBe(true);
    expect(testsKeptGate([{ path: 'src/old.ts', status: 'deleted', binary: false, hunks: [] }]).passed).toBe(true);
  });

  it('flags added skip markers in many dialects', () => {
    const cases: [string, string, string][] = [
      ['src/x.test.ts', "it.skip('works', () => {", '.skip()'],
      ['src/x.test.ts', "describe.only('suite', () => {", '.only()'],
      ['src/x.test.ts', "it.todo('works')", '.todo()'],
      ['src/x.test.ts', "test('works', { skip: true }, () => {", '{ skip: true }'],
      ['src/x.test.ts', "xit('works', () => {", 'xit'],
      ['tests/test_api.py', '@pytest.mark.skip(reason="flaky")', '@pytest.mark.skip'],
      ['tests/test_api.py', '@pytest.mark.xfail', '@pytest.mark.skip/skipif/xfail'],
      ['pkg/x_test.go', '\tt.Skip("later")', 't.Skip()'],
      ['src/test/java/FooTest.java', '  @Disabled', '@Disabled'],
      ['conftest.py', 'collect_ignore = ["test_api.py"]', 'test ignore patterns'],
      ['pytest.ini', 'addopts = --deselect tests/test_api.py::test_create', 'test ignore patterns'],
      ['vitest.config.ts', "  exclude: ['e2e/**'], testIgnore: ['slow/**'],", 'test ignore patterns'],
    ];
    for (const [path, line, label] of cases) {
      const gate = noSkipMarkersGate([modified(path, [], [line])]);
      expect(gate.passed, line).toBe(false);
      expect(gate.reason, line).toContain(label);
    }
  });

  it('does not flag product code or moved markers', () => {
    expect(noSkipMarkersGate([modified('src/Repo.java', [], ['return rows.stream().skip(offset).limit(n);'])]).passed).toBe(true);
    expect(noSkipMarkersGate([modified('src/config.ts', [], ['const opts = { skip: true };'])]).passed).toBe(true);
    expect(noSkipMarkersGate([modified('src/x.test.ts', ["it.skip('a', () => {"], ["  it.skip('a', () => {"])]).passed).toBe(true);
  });

  it('flags removed and loosened assertions in tests', () => {
    const removed = assertionsKeptGate([
      modified('src/x.test.ts', ['  expect(res.status).toBe(200);', '  expect(body.id).toBe(1);'], ['  expect(res.status).toBe(200);']),
    ]);
    expect(removed.reason).toContain('removed 1 assertion(s) from src/x.test.ts');
    const loosened = assertionsKeptGate([modified('src/x.test.ts', ['  expect(body.id).toBe(1);'], ['  expect(body.id).toBeDefined();'])]);
    expect(loosened.reason).toContain('loosened 1 assertion(s)');
    const py = assertionsKeptGate([modified('tests/test_api.py', ['    assert r.status_code == 200'], ['    assert True'])]);
    expect(py.passed).toBe(false);
    expect(assertionsKeptGate([modified('src/app.ts', ['assert(x > 0);'], [])]).passed).toBe(true);
  });

  it('flags changed thresholds, timeouts and expected values in tests', () => {
    const timeout = testNumbersKeptGate([
      modified('e2e/load.spec.ts', ["test('p95', { timeout: 5000 }, async () => {"], ["test('p95', { timeout: 60000 }, async () => {"]),
    ]);
    expect(timeout.passed).toBe(false);
    expect(timeout.reason).toContain('timeout: 5000');
    expect(timeout.reason).toContain('timeout: 60000');
    expect(testNumbersKeptGate([modified('e2e/load.spec.ts', ['  expect(p95).toBeLessThan(200);'], ['  expect(p95).toBeLessThan(2000);'])]).passed).toBe(false);
    expect(testNumbersKeptGate([modified('src/limits.ts', ['const max = 10;'], ['const max = 100;'])]).passed).toBe(true);
    expect(testNumbersKeptGate([modified('e2e/x.spec.ts', ['  expect(a).toBe(1);'], ['  expect(b).toBe(1);'])]).passed).toBe(true);
  });

  it('runs every diff gate and joins the failed reasons', () => {
    const gates = diffGates([modified('test/a.test.js', ["it('a', () => {"], ["it.skip('a', () => {"])], ['test/**']);
    expect(gates.map((g) => g.name)).toEqual(['diff-not-empty', 'protected-paths', 'tests-kept', 'no-skip-markers', 'assertions-kept', 'test-numbers-kept']);
    const reason = rejectionReason(gates);
    expect(reason).toContain('protected-paths: changed protected paths: test/a.test.js');
    expect(reason).toContain('no-skip-markers: added .skip()');
    expect(rejectionReason(diffGates([modified('src/a.js', ['a'], ['b'])], ['test/**']))).toBeUndefined();
    expect(diffGates([], [])[0]).toEqual({ name: 'diff-not-empty', passed: false, reason: 'the fixer changed nothing in the worktree' });
  });
});
