import type { StackFrame } from './types.ts';

/**
 * Stack frame parsing for the traces test runners print: V8 (`at fn (file:1:2)`), vitest (`❯ file:1:2`),
 * Java (`at pkg.Cls.m(Cls.java:48)`), Python (`File "x.py", line 3, in fn` and pytest's `x.py:15: Error`),
 * and Go (`x_test.go:42:` log prefixes, `\t/path/x.go:88 +0x1d` panic frames).
 */

const MAX_FRAMES = 50;

const INTERNAL_FILE =
  /^(?:node:|internal\/|<anonymous>$|native$|evalmachine|\[eval\]|wasm:)|(?:^|\/)(?:lib\/python\d[\d.]*\/(?!site-packages|dist-packages)|_pytest\/|pluggy\/|usr\/local\/go\/src\/|go\/src\/(?:runtime|testing)\/)/;
const INTERNAL_JAVA =
  /^(?:java\.base\/|java\.|javax\.|jdk\.|sun\.|com\.sun\.|kotlin\.|kotlinx\.coroutines\.|scala\.|org\.junit\.|junit\.|org\.opentest4j\.|org\.apache\.maven\.|org\.testng\.|org\.gradle\.|worker\.org\.gradle\.)/;
const VENDOR_FILE = /(?:^|[/\\])(?:node_modules|site-packages|dist-packages|vendor|\.m2|pkg[/\\]mod|\.venv|venv)[/\\]/;
const VENDOR_JAVA =
  /^(?:org\.springframework\.|org\.apache\.|io\.netty\.|com\.fasterxml\.|okhttp3\.|io\.restassured\.|org\.hamcrest\.|org\.assertj\.|org\.mockito\.)/;
const TEST_FILE =
  /(?:^|[/\\])(?:tests?|e2e|__tests__|specs?|testing)[/\\]|[._-](?:test|spec|e2e|it)\.[cm]?[jt]sx?$|_test\.go$|(?:^|[/\\])test_[^/\\]*\.py$|_test\.py$|(?:^|[/\\])conftest\.py$|(?:Test|Tests|IT|Spec|TestCase)\.(?:java|kt|scala|groovy)$/;

/** Whether a path is a test file (the suite's own code, which fixers may not edit). */
export function isTestPath(path: string): boolean {
  return TEST_FILE.test(cleanPath(path));
}

/** Strips a file URL's scheme and a location's query, and turns Windows separators into `/`. */
export function cleanPath(file: string): string {
  let f = file.trim();
  if (f.startsWith('file://')) f = f.slice('file://'.length);
  f = f.replace(/[?#].*$/, '').replaceAll('\\', '/');
  // file:///C:/x → /C:/x
  if (/^\/[A-Za-z]:\//.test(f)) f = f.slice(1);
  return f;
}

function classify(file: string, fn: string | undefined, javaFrame: boolean): Pick<StackFrame, 'internal' | 'vendor' | 'test'> {
  if (file.startsWith('node:')) return { internal: true, vendor: false, test: false };
  const clean = cleanPath(file);
  if (javaFrame) {
    const qualified = fn ?? '';
    return {
      internal: INTERNAL_JAVA.test(qualified) || /^(?:Native Method|Unknown Source)$/.test(file),
      vendor: VENDOR_JAVA.test(qualified),
      test: TEST_FILE.test(clean),
    };
  }
  return { internal: INTERNAL_FILE.test(clean), vendor: VENDOR_FILE.test(clean), test: TEST_FILE.test(clean) };
}

function frame(file: string, fn: string | undefined, line: number | undefined, javaFrame = false): StackFrame {
  const f: StackFrame = { file, ...classify(file, fn, javaFrame) };
  if (fn) f.fn = fn;
  if (line !== undefined && Number.isFinite(line)) f.line = line;
  return f;
}

function splitLocation(loc: string): { file: string; line?: number } {
  const m = /^(.*?)(?::(\d+))?(?::(\d+))?$/.exec(loc.trim());
  const file = m?.[1] ?? loc;
  const line = m?.[2] === undefined ? undefined : Number(m[2]);
  return line === undefined ? { file } : { file, line };
}

function cleanFn(fn: string | undefined): string | undefined {
  if (!fn) return undefined;
  const f = fn
    .replace(/^(?:async |new )+/, '')
    .replace(/ \[as [^\]]+\]$/, '')
    .trim();
  return f === '' ? undefined : f;
}

/**
 * Parses every stack frame it recognises in `text` (up to 50), in order. `skipInternal` leaves out runtime
 * frames (node:internal…) without building them — most of a node trace, and 10k traces add up.
 */
export function parseStackFrames(text: string | undefined, opts: { skipInternal?: boolean } = {}): StackFrame[] {
  if (!text) return [];
  const skipInternal = opts.skipInternal === true;
  const frames: StackFrame[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && frames.length < MAX_FRAMES; i++) {
    const raw = lines[i] as string;
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('at ')) {
      const body = line.slice(3).trim();
      // Java: no space between method and "(".
      const java = /^([\w$.<>/-]+)\(([^()]*)\)$/.exec(body);
      if (java && !body.includes(' (')) {
        const qualified = (java[1] as string).replace(/^[\w.-]+\/(?=[\w$]+\.)/, (m) => (m.startsWith('java.') || m.startsWith('jdk.') ? m : ''));
        const loc = java[2] as string;
        const { file, line: ln } = splitLocation(loc);
        frames.push(frame(file, qualified, ln, true));
        continue;
      }
      const v8 = /^(.*?) \((.*)\)$/.exec(body);
      const fn = v8 ? cleanFn(v8[1]) : undefined;
      const loc = v8 ? (v8[2] as string) : body.replace(/^(?:async |new )+/, '');
      if (skipInternal && loc.startsWith('node:')) continue;
      if (!/[/\\]|^node:|^file:/.test(loc)) continue;
      const { file, line: ln } = splitLocation(loc);
      frames.push(frame(file, fn, ln));
      continue;
    }
    const first = line.charCodeAt(0);
    // Cheap guards first: most non-"at" lines are prose, and five regexes per prose line add up at 10k failures.
    const vitest = line.startsWith('❯') ? /^❯\s+(?:(\S+)\s+)?(\S+?):(\d+):(\d+)$/.exec(line) : null;
    if (vitest) {
      frames.push(frame(vitest[2] as string, cleanFn(vitest[1]), Number(vitest[3])));
      continue;
    }
    const pyTb = first === 70 /* F */ ? /^File "([^"]+)", line (\d+)(?:, in (\S+))?/.exec(line) : null;
    if (pyTb) {
      frames.push(frame(pyTb[1] as string, pyTb[3], Number(pyTb[2])));
      continue;
    }
    const hasPy = line.includes('.py:');
    const pyShort = hasPy ? /^(\S+\.py):(\d+): (?:in (\S+)|[\w.]+)$/.exec(line) : null;
    if (pyShort) {
      frames.push(frame(pyShort[1] as string, pyShort[3], Number(pyShort[2])));
      continue;
    }
    const hasGo = !hasPy && line.includes('.go:');
    const goLog = hasGo ? /^([\w./-]+\.go):(\d+):/.exec(line) : null;
    if (goLog) {
      frames.push(frame(goLog[1] as string, undefined, Number(goLog[2])));
      continue;
    }
    const goPanic = hasGo && first === 47 /* / */ ? /^(\/\S+\.go):(\d+)(?: \+0x[0-9a-f]+)?$/.exec(line) : null;
    if (goPanic) {
      const prev = (lines[i - 1] ?? '').trim();
      const fn = prev.replace(/\(.*\)$/, '') || undefined;
      frames.push(frame(goPanic[1] as string, fn, Number(goPanic[2])));
    }
  }
  return frames;
}

/** The last `segments` parts of a frame's path, without scheme, line or build hashes. */
export function fileTail(file: string, segments = 2): string {
  const parts = cleanPath(file).split('/').filter(Boolean);
  return parts
    .slice(-segments)
    .join('/')
    .replace(/([.-])[0-9a-f]{6,}(?=\.)/g, '$1<hash>');
}

/**
 * A frame as a fingerprint part: function and file tail, never the absolute path (worktrees differ per loop)
 * nor, unless asked, the line (a fix elsewhere in the file moves it).
 */
export function frameKey(f: StackFrame, withLine = false): string {
  const fn = (f.fn ?? '').replace(/\$\d+/g, '$').replace(/\b\d+\b/g, '<n>');
  const where = fileTail(f.file);
  return `${fn}@${where}${withLine && f.line !== undefined ? `:${f.line}` : ''}`;
}

/** Frames in the code under test: not runtime, not third-party, not the test files themselves. */
export function appFrames(frames: readonly StackFrame[]): StackFrame[] {
  return frames.filter((f) => !f.internal && !f.vendor && !f.test);
}
