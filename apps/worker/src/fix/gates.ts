import { matchesGlob } from 'node:path';
import type { FixResult } from '@greenloop/core';
import { addedLines, type FileChange, removedLines } from './diff.ts';

/**
 * The checks a fixer's diff must pass before it is committed. Each gate is recorded with its reason, and
 * the reasons go back to the fixer on a retry, so they say what was wrong in words a coding agent can act on.
 * The anti-cheat gates are heuristics on the diff; they back up `protectedPaths`, which by default already
 * keeps the fixer out of test files.
 */

export type GateRecord = NonNullable<FixResult['gates']>[number];

const TEST_DIRS = new Set(['test', 'tests', '__tests__', 'e2e', 'spec', 'specs', 'integration-tests', 'cypress']);
const TEST_FILE_PATTERNS = [
  /\.(test|spec|e2e)\.[^/]+$/i,
  /(^|\/)test_[^/]+\.py$/,
  /_test\.(py|go|rb|exs?)$/,
  /_spec\.rb$/,
  /Tests?\.(java|kt|scala|cs|swift)$/,
  /(^|\/)(conftest\.py|pytest\.ini|tox\.ini|\.mocharc\.[^/]+|karma\.conf\.[^/]+)$/,
  /(^|\/)(vitest|jest|playwright|cypress)\.config\.[^/]+$/,
];

/** Whether a repository path is a test file or test-runner configuration. */
export function isTestPath(path: string): boolean {
  const segments = path.split('/');
  if (segments.slice(0, -1).some((s) => TEST_DIRS.has(s.toLowerCase()))) return true;
  return TEST_FILE_PATTERNS.some((re) => re.test(path));
}

/** Whether `path` (relative to the repository root, `/`-separated) matches one of the globs. */
export function matchesAnyGlob(path: string, globs: readonly string[]): string | undefined {
  // A trailing slash means "this directory": `dist/` guards everything below dist.
  return globs.find((g) => matchesGlob(path, g.endsWith('/') ? `${g}**` : g));
}

/** The diff touched nothing. */
export function diffGate(changes: readonly FileChange[]): GateRecord {
  return changes.length > 0
    ? { name: 'diff-not-empty', passed: true }
    : { name: 'diff-not-empty', passed: false, reason: 'the fixer changed nothing in the worktree' };
}

/** No changed path (including the old path of a deleted or moved file) matches `protectedPaths`. */
export function protectedPathsGate(changes: readonly FileChange[], globs: readonly string[]): GateRecord {
  const hits = changes.flatMap((c) => {
    const glob = matchesAnyGlob(c.path, globs);
    return glob ? [`${c.path} (${c.status}, protected by "${glob}")`] : [];
  });
  return hits.length === 0
    ? { name: 'protected-paths', passed: true }
    : { name: 'protected-paths', passed: false, reason: `changed protected paths: ${list(hits)}` };
}

const TEST_CASE =
  /^\s*(?:(?:it|test|describe|context|suite|specify)(?:\.\w+)?\s*\(|(?:async\s+)?def\s+test_?\w*\s*\(|func\s+Test\w*\s*\(|@Test\b|@ParameterizedTest\b|#\[test\]|\[(?:Test|Fact|Theory)\])/;

/** No test file deleted, and no test file lost test cases (fewer test declarations than before). */
export function testsKeptGate(changes: readonly FileChange[]): GateRecord {
  const problems: string[] = [];
  for (const c of changes) {
    if (!isTestPath(c.path)) continue;
    if (c.status === 'deleted') {
      problems.push(`deleted test file ${c.path}`);
      continue;
    }
    const lost = count(removedLines(c), TEST_CASE) - count(addedLines(c), TEST_CASE);
    if (lost > 0) problems.push(`removed ${lost} test case(s) from ${c.path}`);
  }
  return problems.length === 0
    ? { name: 'tests-kept', passed: true }
    : { name: 'tests-kept', passed: false, reason: `${list(problems)}; fix the code under test instead` };
}

interface Marker {
  label: string;
  re: RegExp;
  /** Only counted in test files (these patterns mean something else in product code, e.g. Java's Stream.skip). */
  testFilesOnly: boolean;
}

const MARKERS: Marker[] = [
  { label: '@pytest.mark.skip/skipif/xfail', re: /@pytest\.mark\.(skip|skipif|xfail)\b/, testFilesOnly: false },
  { label: 'pytest.skip()/xfail()', re: /\bpytest\.(skip|xfail|importorskip)\s*\(/, testFilesOnly: false },
  { label: 'xfail', re: /\bxfail\b/i, testFilesOnly: false },
  { label: 'unittest skip', re: /@unittest\.skip|\bself\.skipTest\s*\(|@skip(If|Unless)?\b/, testFilesOnly: false },
  { label: 't.Skip()', re: /\b[tb]\.Skip(Now|f)?\s*\(/, testFilesOnly: false },
  { label: '@Disabled/@Ignore', re: /@(Disabled|Ignore)\b/, testFilesOnly: false },
  { label: '#[ignore]', re: /#\[ignore\b/, testFilesOnly: false },
  { label: '.todo()', re: /\b(it|test|describe)\.todo\s*\(/, testFilesOnly: false },
  { label: '.skip()', re: /\.skip(If)?\s*\(/, testFilesOnly: true },
  { label: '.only()', re: /\.only\s*\(/, testFilesOnly: true },
  { label: '.fixme()/.fails()', re: /\.(fixme|fails)\s*\(/, testFilesOnly: true },
  { label: 'xit/xdescribe/fit/fdescribe', re: /(^|[^\w.])(xit|xtest|xdescribe|fit|fdescribe)\s*\(/, testFilesOnly: true },
  { label: '{ skip: true }/{ only: true }/{ todo: true }', re: /\b(skip|only|todo)\s*:\s*(true|['"`])/, testFilesOnly: true },
  { label: 'skip=True', re: /\bskip\s*=\s*True\b/, testFilesOnly: true },
  {
    label: 'test ignore patterns',
    re: /\b(testPathIgnorePatterns|testIgnore|modulePathIgnorePatterns|collect_ignore(_glob)?)\b|--(deselect|ignore)\b/,
    testFilesOnly: true,
  },
];

/** No skip/only/xfail/todo markers added (counted net, so moving an existing marker is not flagged). */
export function noSkipMarkersGate(changes: readonly FileChange[]): GateRecord {
  const problems: string[] = [];
  for (const c of changes) {
    const testFile = isTestPath(c.path);
    const added = addedLines(c);
    const removed = removedLines(c);
    for (const m of MARKERS) {
      if (m.testFilesOnly && !testFile) continue;
      const net = count(added, m.re) - count(removed, m.re);
      if (net > 0) problems.push(`added ${m.label} in ${c.path}`);
    }
  }
  return problems.length === 0
    ? { name: 'no-skip-markers', passed: true }
    : { name: 'no-skip-markers', passed: false, reason: `${list(problems)}; failing tests must pass, not be skipped` };
}

const ASSERTION =
  /\bexpect\s*\(|\bassert\w*\b|\.should\b|\bshould\.|\b\w+\.(Error|Errorf|Fatal|Fatalf|Fail|FailNow)\s*\(|\brequire\.\w+\s*\(|\bXCTAssert|\b(EXPECT|ASSERT)_[A-Z]+\s*\(|\bverify\s*\(/;
const LOOSE =
  /\.(toBeTruthy|toBeDefined|toBeFalsy|toBeUndefined)\s*\(|expect\.(anything|any)\s*\(|\bassert\s*\(?\s*(True|true|1)\s*\)?\s*$|assertTrue\s*\(\s*true\s*\)|expect\s*\(\s*true\s*\)|\.toBeGreaterThanOrEqual\s*\(\s*0\s*\)|\.toMatch\s*\(\s*\/\.\*\/\s*\)|\.not\.toThrow\s*\(|\bassert\s+\w+\s+is\s+not\s+None\b/;

/** Test files keep their assertions: no net loss of assertion lines, no net gain of loose matchers. */
export function assertionsKeptGate(changes: readonly FileChange[]): GateRecord {
  const problems: string[] = [];
  for (const c of changes) {
    if (!isTestPath(c.path) || c.status === 'deleted') continue;
    const added = addedLines(c);
    const removed = removedLines(c);
    const lost = count(removed, ASSERTION) - count(added, ASSERTION);
    if (lost > 0) problems.push(`removed ${lost} assertion(s) from ${c.path}`);
    const loosened = count(added, LOOSE) - count(removed, LOOSE);
    if (loosened > 0) problems.push(`loosened ${loosened} assertion(s) in ${c.path} (e.g. toBeTruthy/toBeDefined/expect.anything)`);
  }
  return problems.length === 0
    ? { name: 'assertions-kept', passed: true }
    : { name: 'assertions-kept', passed: false, reason: `${list(problems)}; do not weaken tests` };
}

const NUMBER = /\d+(?:[._]\d+)*(?:e[+-]?\d+)?/gi;

/**
 * No numbers changed on existing test lines: thresholds, timeouts, retries, tolerances and expected
 * values. Either direction is flagged, since "raising" a timeout loosens a test as much as lowering a limit.
 */
export function testNumbersKeptGate(changes: readonly FileChange[]): GateRecord {
  const problems: string[] = [];
  for (const c of changes) {
    if (!isTestPath(c.path) || c.status !== 'modified') continue;
    for (const h of c.hunks) {
      const added = [...h.added];
      for (const old of h.removed) {
        if (!/\d/.test(old)) continue;
        const shape = old.replace(NUMBER, '#').trim();
        const i = added.findIndex((a) => a !== old && a.replace(NUMBER, '#').trim() === shape);
        if (i < 0) continue;
        problems.push(`changed a number in ${c.path}: "${old.trim()}" → "${(added[i] as string).trim()}"`);
        added.splice(i, 1);
      }
    }
  }
  return problems.length === 0
    ? { name: 'test-numbers-kept', passed: true }
    : {
        name: 'test-numbers-kept',
        passed: false,
        reason: `${list(problems)}; thresholds, timeouts and expected values in tests are not the fixer's to change`,
      };
}

/** Every gate that only needs the diff, in the order they are reported. */
export function diffGates(changes: readonly FileChange[], protectedPaths: readonly string[]): GateRecord[] {
  return [
    diffGate(changes),
    protectedPathsGate(changes, protectedPaths),
    testsKeptGate(changes),
    noSkipMarkersGate(changes),
    assertionsKeptGate(changes),
    testNumbersKeptGate(changes),
  ];
}

/** The reasons of the failed gates, as one sentence-ish string. */
export function rejectionReason(gates: readonly GateRecord[]): string | undefined {
  const failed = gates.filter((g) => !g.passed);
  return failed.length === 0 ? undefined : failed.map((g) => `${g.name}: ${g.reason ?? 'failed'}`).join(' | ');
}

function count(lines: readonly string[], re: RegExp): number {
  return lines.filter((l) => re.test(l)).length;
}

function list(items: readonly string[], max = 10): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
