import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RerunPreset } from '@greenloop/core';

/**
 * How each test runner is told to run only some tests, from what its JUnit XML says about them. Every
 * runner names tests differently in JUnit and accepts a different filter; getting either wrong reruns
 * nothing (`pytest -k 'a|b'` is a syntax error) or everything.
 */

/** A failed test as its JUnit `<testcase>` names it. */
export interface FailedTestRef {
  classname: string;
  name: string;
  /** The `file` attribute, when the runner wrote one (pytest xunit1, node --test). */
  file?: string;
}

/** The rerun filter of one runner for a set of tests. */
export interface RerunSelection {
  /** Arguments appended to the rerun command (or spread where an argv element is exactly `{{failedTests}}`). */
  args: string[];
  /** `{{failedTests}}` inside a longer argv element: the filter in the one-string form the runner takes. */
  value: string;
  /** Where unplaced args go: the end (default), or right after `--test` (node: options after a file name are the script's). */
  insertAfter?: string;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const unique = (xs: readonly string[]) => [...new Set(xs)];
/** A regex alternation of literal names, unanchored: runners match it against a longer full name. */
const anyOf = (names: readonly string[]) => unique(names).map(escapeRegex).join('|');
/** The test's own title, without the describe blocks vitest (`a > b`) and Playwright (`a › b`) prefix. */
const leafTitle = (name: string) => name.split(/ (?:>|›) /).at(-1) ?? name;

/**
 * pytest node id `path/to/test_mod.py::Class::test_name[param]`. The path comes from the `file` attribute
 * (xunit1) or from the dotted classname: its longest prefix naming a `.py` file under `cwd`, else the
 * parts up to the last lowercase one (classes are CapWords by pytest's own discovery rule `Test*`).
 */
export function pytestNodeId(t: FailedTestRef, cwd?: string): string {
  const parts = t.classname.split('.').filter(Boolean);
  let modLen = -1;
  if (t.file) {
    const dotted = t.file.replace(/\.py$/, '').split('/').join('.');
    const classes =
      t.classname === dotted
        ? []
        : t.classname.startsWith(`${dotted}.`)
          ? t.classname.slice(dotted.length + 1).split('.')
          : parts.filter((p) => /^[A-Z]/.test(p));
    return [t.file, ...classes, t.name].join('::');
  }
  if (cwd) {
    for (let i = parts.length; i > 0 && modLen < 0; i--) if (existsSync(join(cwd, `${parts.slice(0, i).join('/')}.py`))) modLen = i;
  }
  if (modLen < 0) {
    const lastLower = parts.findLastIndex((p) => /^[a-z_]/.test(p));
    modLen = lastLower >= 0 ? lastLower + 1 : parts.length;
  }
  return [`${parts.slice(0, modLen).join('/')}.py`, ...parts.slice(modLen), t.name].join('::');
}

const PRESETS: Record<RerunPreset, (tests: readonly FailedTestRef[], cwd?: string) => RerunSelection> = {
  // Node ids, one argument each: pytest takes them positionally (`-k` takes an expression, not names).
  pytest: (tests, cwd) => {
    const ids = unique(tests.map((t) => pytestNodeId(t, cwd)));
    return { args: ids, value: ids.join(' ') };
  },
  // jest-junit names a test by its full name (describe titles + title), which is what -t matches.
  jest: (tests) => {
    const pattern = anyOf(tests.map((t) => t.name));
    return { args: ['--testNamePattern', pattern], value: pattern };
  },
  // Vitest's JUnit classname is the file: narrow to those files, then to the titles.
  vitest: (tests) => {
    const pattern = anyOf(tests.map((t) => leafTitle(t.name)));
    return { args: [...unique(tests.map((t) => t.classname).filter(Boolean)), '--testNamePattern', pattern], value: pattern };
  },
  // --grep matches the title path (file, describes, title) joined by spaces: the own title is enough.
  playwright: (tests) => {
    const pattern = anyOf(tests.map((t) => leafTitle(t.name)));
    return { args: ['--grep', pattern], value: pattern };
  },
  // `go test -run` splits its regex on `/` per subtest level: rerun the top-level tests, subtests included.
  go: (tests) => {
    // Pseudo-tests such as go-junit-report's "[build failed]" name no function and are left out.
    const names = unique(tests.map((t) => t.name.split('/')[0] ?? t.name)).filter((n) => /^[A-Za-z_]\w*$/.test(n));
    const pattern = `^(${names.join('|')})$`;
    return { args: ['-run', pattern], value: pattern };
  },
  // Surefire/Failsafe: -Dtest=Class#m1+m2,Other#m3 (simple class names; methods of one class joined by +).
  maven: (tests) => {
    const byClass = new Map<string, string[]>();
    for (const t of tests) {
      const cls = t.classname.split('.').at(-1) ?? t.classname;
      const method = t.name.replace(/\(.*\)$/, '').replace(/\[.*\]$/, '');
      byClass.set(cls, unique([...(byClass.get(cls) ?? []), method]));
    }
    const value = [...byClass].map(([cls, methods]) => `${cls}#${methods.join('+')}`).join(',');
    return { args: [`-Dtest=${value}`], value };
  },
  // node --test: the pattern is matched against each test's name; the JUnit name is the own title.
  'node-test': (tests) => {
    const pattern = anyOf(tests.map((t) => t.name));
    return { args: [`--test-name-pattern=${pattern}`], value: pattern, insertAfter: '--test' };
  },
};

/** The rerun filter of `preset` for the failed tests. */
export function rerunSelection(preset: RerunPreset, tests: readonly FailedTestRef[], cwd?: string): RerunSelection {
  return PRESETS[preset](tests, cwd);
}

/**
 * The rerun argv: `command` with the selection spread where an element is exactly `{{failedTests}}`,
 * substituted inside longer elements, or added (at the end, or where the runner needs its options) when
 * the command does not place it. Other
 * placeholders are left for the caller to render.
 */
export function rerunArgv(command: readonly string[], selection: RerunSelection): string[] {
  const placed = command.some((a) => /\{\{\s*failedTests\s*\}\}/.test(a));
  if (!placed) {
    const at = selection.insertAfter ? command.indexOf(selection.insertAfter) : -1;
    const i = at >= 0 ? at + 1 : command.length;
    return [...command.slice(0, i), ...selection.args, ...command.slice(i)];
  }
  return command.flatMap((a) => (/^\{\{\s*failedTests\s*\}\}$/.test(a) ? selection.args : [a.replace(/\{\{\s*failedTests\s*\}\}/g, () => selection.value)]));
}

/** The legacy `{{failedTestsPattern}}`: a regex matching the failed tests' names. */
export function failedTestsPattern(tests: readonly FailedTestRef[]): string {
  return anyOf(tests.map((t) => t.name));
}
