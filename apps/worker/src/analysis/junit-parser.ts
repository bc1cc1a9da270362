import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { CappedText, truncate } from './capped-text.ts';
import { RunLimiter } from './run-limiter.ts';
import type { FailedAttempt, ParsedTestCase } from './types.ts';

/**
 * Streaming JUnit XML reader. One parser for the dialects greenloop meets: pytest (xunit1/xunit2), jest-junit,
 * vitest, node's test runner (nested suites, top-level testcases), Maven Surefire (`flakyFailure`,
 * `rerunFailure` with `stackTrace` children), go-junit-report (CDATA bodies, "Failed" messages). Text runs are
 * bounded before saxes sees them (RunLimiter) and output is capped per test, so a 100 MB `<system-out>` costs
 * ~110 MB of peak RSS instead of ~420 MB (measured) and a few kilobytes once parsed.
 */

/** Caps applied to what is kept per test. */
export interface JUnitParseOptions {
  /** Characters kept of each `<system-out>`/`<system-err>` (half from the start, half from the end). Default 8000. */
  maxOutputChars?: number;
  /** Characters kept of each failure body (stack trace, diff). Default 16000. */
  maxDetailsChars?: number;
  /** Characters kept of a failure message. Default 4000. */
  maxMessageChars?: number;
}

/** What one JUnit file held. */
export interface JUnitFileSummary {
  file: string;
  bytes: number;
  suites: number;
  tests: number;
  /** Sum of the top-level suites' `time`, for runners that time suites but not testcases. */
  suiteTimeMs: number;
  /** Things that were odd but not fatal (control characters removed, unknown root attributes...). */
  warnings: string[];
}

/** The merged result of all of a cycle's JUnit files. */
export interface JUnitParseResult {
  tests: ParsedTestCase[];
  files: JUnitFileSummary[];
}

const RESULT_TAGS = new Set(['failure', 'error']);
const ATTEMPT_TAGS = new Set(['flakyFailure', 'flakyError', 'rerunFailure', 'rerunError']);
// Messages runners write when they have nothing better to say; the body carries the real text.
const GENERIC_MESSAGES = new Set([
  '',
  'failed',
  'failure',
  'error',
  'true',
  'false',
  'skipped',
  'build error',
  'runtime error',
  'test failed',
  'assertion failed',
]);
// Type attributes that name the runner's failure category rather than the error (case-sensitive: "Error" is a class).
const GENERIC_TYPES = new Set([
  '',
  'failure',
  'error',
  'failed',
  'testCodeFailure',
  'hookFailure',
  'cancelledByParent',
  'subtestsFailed',
  'unhandledError',
  'uncaughtException',
  'skipped',
  'todo',
  'pytest.skip',
  'pytest.xfail',
]);
// XML 1.0 forbids these; test output often carries them (ANSI colours, NUL from binary logs).
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const HAS_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const HTML_ENTITIES: Record<string, string> = { nbsp: '\u00a0', copy: '©', reg: '®', hellip: '…', mdash: '—', ndash: '–', laquo: '«', raquo: '»', times: '×' };

/** An open `<testsuite>`, with what its testcases inherit worked out once. */
interface SuiteFrame {
  /** Non-empty suite names from the outermost to this one (shared by all its testcases). */
  path: string[];
  /** The forms of `path` a classname may repeat, for `makeTestId`. */
  joined: string;
  dotted: string;
  spaced: string;
  /** Nearest `timestamp` / `file` attribute, inherited from enclosing suites. */
  timestamp?: string;
  file?: string;
}

const ROOT: SuiteFrame = { path: [], joined: '', dotted: '', spaced: '' };

// Strings kept from the parser are often slices of a 64 KB input chunk, and a slice keeps the whole chunk
// alive; copying them lets each chunk be collected once it is parsed (measured: −40 MB retained at 100k tests).
function own(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

interface ResultElement {
  kind: 'failure' | 'error';
  message?: string;
  type?: string;
  body: CappedText;
}

interface AttemptBuilder {
  kind: FailedAttempt['kind'];
  message?: string;
  type?: string;
  body: CappedText;
}

interface TestBuilder {
  attrs: Record<string, string>;
  line: number;
  result?: ResultElement;
  skipped?: { message?: string; body: CappedText };
  out?: CappedText;
  err?: CappedText;
  attempts?: AttemptBuilder[];
}

/** Builds the stable test id "<suite> › <classname> › <name>", leaving out parts that repeat another part. */
export function makeTestId(suitePath: readonly string[], classname: string, name: string): string {
  return idFor(frameFor(suitePath), classname, name);
}

function frameFor(path: readonly string[]): SuiteFrame {
  return { path: [...path], joined: path.join(' › '), dotted: path.join('.'), spaced: path.join(' ') };
}

function idFor(suite: SuiteFrame, classname: string, name: string): string {
  const redundant =
    classname === '' ||
    classname === suite.joined ||
    classname === name ||
    classname === suite.path[suite.path.length - 1] ||
    classname === suite.dotted ||
    classname === suite.spaced;
  const head = suite.joined === '' ? '' : `${suite.joined} › `;
  return redundant ? `${head}${name}` : `${head}${classname} › ${name}`;
}

/** Seconds as written by runners ("0.123", "1,234.5", "0,5", "") → milliseconds. */
export function parseSeconds(value: string | undefined): number {
  if (!value) return 0;
  // Fast path for the plain decimal almost every runner writes ("0.015").
  const plain = Number(value);
  if (plain >= 0 && Number.isFinite(plain)) return Math.round(plain * 1_000_000) / 1000;
  let v = value.trim();
  v = /^\d+,\d+$/.test(v) ? v.replace(',', '.') : v.replaceAll(',', '');
  const seconds = Number.parseFloat(v);
  if (!Number.isFinite(seconds) || seconds < 0) return 0;
  return Math.round(seconds * 1_000_000) / 1000;
}

/** Picks the error type: an informative `type` attribute, else the cause or exception named in the text. */
export function deriveErrorType(typeAttr: string | undefined, message: string | undefined, details: string | undefined): string | undefined {
  const clean = (t: string) => t.replace(/\s*\[[A-Z0-9_]+\]$/, '').trim();
  if (typeAttr && !GENERIC_TYPES.has(typeAttr.trim())) return clean(typeAttr);
  const text = details ?? '';
  // node's test runner wraps the real error: "cause: AssertionError [ERR_ASSERTION]: ..."
  const cause = /\bcause: ([A-Za-z_$][\w$.]*)(?: \[[A-Z0-9_]+\])?:/.exec(text);
  if (cause?.[1]) return cause[1];
  // pytest marks the raised exception with "E   Name: ..." and ends with "file.py:12: Name".
  const pyE = /^E\s+([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Warning))\b/m.exec(text);
  if (pyE?.[1]) return pyE[1];
  const named = /^\s*((?:[A-Za-z_$][\w$.]*)?(?:Error|Exception|Failure|Failed|Exit|Interrupt|Panic))(?: \[[A-Z0-9_]+\])?(?::|$)/m;
  const fromMessage = message ? named.exec(message) : null;
  if (fromMessage?.[1]) return fromMessage[1];
  const fromBody = named.exec(text);
  if (fromBody?.[1]) return fromBody[1];
  if (/^panic: /m.test(text)) return 'panic';
  return undefined;
}

/** Picks the message: the attribute unless it is empty or generic ("Failed"), else the body's first meaningful line. */
export function deriveMessage(messageAttr: string | undefined, body: string | undefined): string | undefined {
  const attr = messageAttr?.trim();
  if (attr && !GENERIC_MESSAGES.has(attr.toLowerCase())) return attr;
  if (!body) return attr || undefined;
  for (const raw of body.split('\n')) {
    // go test prefixes t.Error/t.Log lines with "file_test.go:42: " (build errors carry a column and keep theirs).
    const line = raw.replace(/^\s*[\w./-]+_test\.go:\d+:\s+/, '').trim();
    // Separators, and go's "# package" build headers.
    if (line === '' || /^[-=]{3,}/.test(line) || line.startsWith('# ')) continue;
    return line;
  }
  return attr || undefined;
}

/**
 * A JUnit file that cannot be read (`JUNIT_MISSING`) or parsed (`JUNIT_INVALID`, with the position). The
 * analyze stage turns it into a non-retryable GreenloopError; the parser itself stays free of @greenloop/core
 * so it loads light (the core entry pulls in BullMQ, ioredis and pino: +40 MB RSS, measured).
 */
export class JUnitError extends Error {
  readonly code: 'JUNIT_INVALID' | 'JUNIT_MISSING';
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(code: JUnitError['code'], message: string, where: { file: string; line?: number; column?: number }, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'JUnitError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
  }
}

function invalid(file: string, line: number, column: number, reason: string, cause?: unknown): JUnitError {
  return new JUnitError('JUNIT_INVALID', `${file}:${line}:${column}: invalid JUnit XML: ${reason}`, { file, line, column }, cause);
}

/** Incremental reader for one file: feed chunks with `write`, then `close`. */
class JUnitFileReader {
  readonly tests: ParsedTestCase[] = [];
  readonly warnings: string[] = [];
  suites = 0;
  suiteTimeMs = 0;
  readonly #file: string;
  readonly #parser: SaxesParser<{ xmlns: false; position: true }>;
  readonly #maxOut: number;
  readonly #maxDetails: number;
  readonly #maxMessage: number;
  readonly #suites: SuiteFrame[] = [];
  // Repeated attribute values (classname, file, timestamp) stored once.
  readonly #interned = new Map<string, string>();
  #lastInterned = '';
  #test: TestBuilder | undefined;
  #attempt: AttemptBuilder | undefined;
  // Where text goes for each open element inside a testcase (undefined = dropped).
  readonly #targets: (CappedText | undefined)[] = [];
  #target: CappedText | undefined;
  #sawRoot = false;
  #strippedChars = 0;
  // saxes holds a whole text node in memory before emitting it; this bounds every text run first.
  readonly #limiter: RunLimiter;

  constructor(file: string, opts: JUnitParseOptions) {
    this.#file = file;
    this.#maxOut = opts.maxOutputChars ?? 8000;
    this.#maxDetails = opts.maxDetailsChars ?? 16_000;
    this.#maxMessage = opts.maxMessageChars ?? 4000;
    this.#limiter = new RunLimiter(Math.max(64 * 1024, this.#maxDetails, this.#maxOut), Math.max(64 * 1024, this.#maxOut));
    this.#parser = new SaxesParser({ xmlns: false, position: true });
    Object.assign(this.#parser.ENTITIES, HTML_ENTITIES);
    this.#parser.on('opentag', (tag) => this.#open(tag));
    this.#parser.on('closetag', (tag) => this.#close(tag));
    this.#parser.on('text', (text) => this.#target?.push(text));
    this.#parser.on('cdata', (text) => this.#target?.push(text));
  }

  write(chunk: string): void {
    if (HAS_FORBIDDEN.test(chunk)) {
      const before = chunk.length;
      chunk = chunk.replace(ANSI, '').replace(FORBIDDEN, '');
      this.#strippedChars += before - chunk.length;
    }
    const bounded = this.#limiter.push(chunk);
    this.#guard(() => this.#parser.write(bounded));
  }

  close(): void {
    const rest = this.#limiter.end();
    this.#guard(() => {
      if (rest) this.#parser.write(rest);
      this.#parser.close();
    });
    if (this.#strippedChars > 0) this.warnings.push(`${this.#strippedChars} control characters (ANSI colours, NUL...) removed; XML does not allow them`);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof JUnitError) throw err;
      const raw = err instanceof Error ? err.message : String(err);
      const reason = raw.replace(/^\d+:\d+: /, '');
      throw invalid(this.#file, this.#parser.line, this.#parser.column, reason, err);
    }
  }

  #open(tag: SaxesTagPlain): void {
    const name = tag.name;
    const attrs = tag.attributes;
    if (!this.#sawRoot) {
      this.#sawRoot = true;
      if (name !== 'testsuites' && name !== 'testsuite' && name !== 'testcase') {
        throw invalid(this.#file, this.#parser.line, this.#parser.column, `root element is <${name}>, expected <testsuites> or <testsuite>`);
      }
    }
    if (this.#test) {
      this.#openInTest(name, attrs);
      return;
    }
    if (name === 'testsuite') {
      this.suites++;
      const parent = this.#suites[this.#suites.length - 1] ?? ROOT;
      if (this.#suites.length === 0) this.suiteTimeMs += parseSeconds(attrs.time);
      const suiteName = own((attrs.name ?? '').trim());
      const frame: SuiteFrame = suiteName === '' ? { ...parent } : frameFor([...parent.path, suiteName]);
      const timestamp = attrs.timestamp ? own(attrs.timestamp) : parent.timestamp;
      if (timestamp) frame.timestamp = timestamp;
      const file = attrs.file ?? attrs.filepath;
      if (file) frame.file = own(file);
      else if (parent.file) frame.file = parent.file;
      this.#suites.push(frame);
    } else if (name === 'testcase') {
      this.#test = { attrs, line: this.#parser.line };
      this.#targets.length = 0;
      this.#target = undefined;
    }
  }

  #openInTest(name: string, attrs: Record<string, string>): void {
    const test = this.#test as TestBuilder;
    let target: CappedText | undefined;
    if (this.#attempt) {
      // Inside a Surefire attempt: its stackTrace is the body; its own system-out is not kept.
      target = name === 'stackTrace' ? this.#attempt.body : undefined;
    } else if (RESULT_TAGS.has(name)) {
      if (!test.result) {
        const result: ResultElement = { kind: name as 'failure' | 'error', body: new CappedText(this.#maxDetails) };
        if (attrs.message !== undefined) result.message = attrs.message;
        if (attrs.type !== undefined) result.type = attrs.type;
        test.result = result;
        target = result.body;
      }
    } else if (name === 'skipped') {
      test.skipped = { body: new CappedText(1000) };
      if (attrs.message !== undefined) test.skipped.message = attrs.message;
      target = test.skipped.body;
    } else if (name === 'system-out') {
      test.out ??= new CappedText(this.#maxOut / 2, this.#maxOut / 2);
      target = test.out;
    } else if (name === 'system-err') {
      test.err ??= new CappedText(this.#maxOut / 2, this.#maxOut / 2);
      target = test.err;
    } else if (ATTEMPT_TAGS.has(name)) {
      const attempt: AttemptBuilder = { kind: name as AttemptBuilder['kind'], body: new CappedText(this.#maxDetails) };
      if (attrs.message !== undefined) attempt.message = attrs.message;
      if (attrs.type !== undefined) attempt.type = attrs.type;
      test.attempts ??= [];
      test.attempts.push(attempt);
      this.#attempt = attempt;
      // Some writers put the trace directly in the element instead of a stackTrace child.
      target = attempt.body;
    }
    this.#targets.push(this.#target);
    this.#target = target;
  }

  #close(tag: SaxesTagPlain): void {
    const name = tag.name;
    if (this.#test) {
      if (name === 'testcase' && this.#targets.length === 0) {
        this.#finishTest();
        return;
      }
      if (ATTEMPT_TAGS.has(name)) this.#attempt = undefined;
      this.#target = this.#targets.pop();
      return;
    }
    if (name === 'testsuite') this.#suites.pop();
  }

  #intern(value: string): string {
    // Consecutive testcases usually share classname and file: one comparison instead of a hash lookup.
    if (value === this.#lastInterned) return this.#lastInterned;
    let v = this.#interned.get(value);
    if (v === undefined) {
      v = own(value);
      // Bounded: a file of unique classnames should not grow a second copy of itself.
      if (this.#interned.size < 10_000) this.#interned.set(v, v);
    }
    this.#lastInterned = v;
    return v;
  }

  #finishTest(): void {
    const b = this.#test as TestBuilder;
    this.#test = undefined;
    this.#target = undefined;
    const suite = this.#suites[this.#suites.length - 1] ?? ROOT;
    const classname = this.#intern((b.attrs.classname ?? b.attrs.class ?? '').trim());
    const name = own((b.attrs.name ?? '').trim()) || '(unnamed)';
    const attempts: FailedAttempt[] = (b.attempts ?? []).map((a) => {
      const details = a.body.toString().trim();
      const attempt: FailedAttempt = { kind: a.kind };
      const message = deriveMessage(a.message, details);
      if (message !== undefined) attempt.message = own(truncate(message, this.#maxMessage));
      const type = deriveErrorType(a.type, message, details);
      if (type !== undefined) attempt.type = this.#intern(type);
      if (details) attempt.details = own(details);
      return attempt;
    });
    const statusAttr = (b.attrs.status ?? b.attrs.result ?? '').toLowerCase();
    let status: ParsedTestCase['status'];
    if (b.result) status = b.result.kind === 'failure' ? 'failed' : 'error';
    else if (b.skipped || statusAttr === 'skipped' || statusAttr === 'notrun' || statusAttr === 'disabled') status = 'skipped';
    else status = 'passed';
    const fileAttr = b.attrs.file ?? b.attrs.filepath;
    const ownTimestamp = b.attrs.timestamp ? own(b.attrs.timestamp) : undefined;
    // One object shape for every testcase (file and timestamp always present, possibly undefined): 100k
    // objects built the same way stay fast and compact.
    const test: ParsedTestCase = {
      id: idFor(suite, classname, name),
      suite: suite.joined,
      classname,
      name,
      status,
      durationMs: parseSeconds(b.attrs.time),
      suitePath: suite.path,
      source: { file: this.#file, line: b.line },
      file: fileAttr ? this.#intern(fileAttr) : suite.file,
      timestamp: ownTimestamp ?? suite.timestamp,
    };
    if (ownTimestamp) test.startedAt = ownTimestamp;
    if (b.result) {
      const details = b.result.body.toString().trim();
      const message = deriveMessage(b.result.message, details);
      if (message !== undefined) test.message = own(truncate(message, this.#maxMessage));
      const type = deriveErrorType(b.result.type, message, details);
      if (type !== undefined) test.type = this.#intern(type);
      if (details) test.details = own(details);
    } else if (status === 'skipped') {
      const reason = deriveMessage(b.skipped?.message, b.skipped?.body.toString());
      if (reason !== undefined && reason !== 'true') test.message = this.#intern(truncate(reason, this.#maxMessage));
    } else if (attempts.length > 0) {
      // Passed after failed attempts: flaky. Keep the first failure so the report can show what flaked.
      test.flaky = true;
      const first = attempts[0] as FailedAttempt;
      if (first.message !== undefined) test.message = first.message;
      if (first.type !== undefined) test.type = first.type;
      if (first.details !== undefined) test.details = first.details;
    }
    if (attempts.length > 0) test.attempts = attempts;
    const out = b.out?.toString().trim();
    if (out) test.systemOut = own(out);
    const err = b.err?.toString().trim();
    if (err) test.systemErr = own(err);
    this.tests.push(test);
  }
}

/** Parses one JUnit document held in memory (tests, small inputs). `file` names it in errors. */
export function parseJUnitString(xml: string, file: string, opts: JUnitParseOptions = {}): { tests: ParsedTestCase[]; summary: JUnitFileSummary } {
  const reader = new JUnitFileReader(file, opts);
  reader.write(xml);
  reader.close();
  return {
    tests: reader.tests,
    summary: {
      file,
      bytes: Buffer.byteLength(xml),
      suites: reader.suites,
      tests: reader.tests.length,
      suiteTimeMs: reader.suiteTimeMs,
      warnings: reader.warnings,
    },
  };
}

/** Streams one JUnit file from disk. Throws `JUNIT_INVALID` (file:line:column) or `JUNIT_MISSING` (unreadable file). */
export async function parseJUnitFile(file: string, opts: JUnitParseOptions = {}): Promise<{ tests: ParsedTestCase[]; summary: JUnitFileSummary }> {
  let bytes: number;
  try {
    bytes = (await stat(file)).size;
  } catch (err) {
    throw new JUnitError('JUNIT_MISSING', `JUnit file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file }, err);
  }
  const reader = new JUnitFileReader(file, opts);
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  for await (const chunk of stream) reader.write(chunk as string);
  reader.close();
  return {
    tests: reader.tests,
    summary: { file, bytes, suites: reader.suites, tests: reader.tests.length, suiteTimeMs: reader.suiteTimeMs, warnings: reader.warnings },
  };
}

/**
 * Parses all of a cycle's JUnit files (shards, one file per class...) into one list. A test id that occurs
 * more than once (the same test in two shards, parametrized cases with equal names) gets " [2]", " [3]"... so
 * every testcase is counted and keeps its own result.
 */
export async function parseJUnitFiles(files: readonly string[], opts: JUnitParseOptions = {}): Promise<JUnitParseResult> {
  const tests: ParsedTestCase[] = [];
  const summaries: JUnitFileSummary[] = [];
  const seen = new Map<string, number>();
  for (const file of files) {
    const parsed = await parseJUnitFile(file, opts);
    summaries.push(parsed.summary);
    for (const t of parsed.tests) {
      const n = (seen.get(t.id) ?? 0) + 1;
      seen.set(t.id, n);
      if (n > 1) t.id = `${t.id} [${n}]`;
      tests.push(t);
    }
  }
  return { tests, files: summaries };
}
