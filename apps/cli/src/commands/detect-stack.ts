import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * What `greenloop init` can tell about a project from its files: the stack, how to start the service, how
 * to run its suite so that it writes JUnit XML, the rerun preset, and the health path the code answers.
 */
export interface DetectedStack {
  stack: 'node' | 'python' | 'go' | 'ruby' | 'maven';
  /** What gave it away ("package.json with vitest"), for the comment and the CLI output. */
  evidence: string[];
  serviceName: string;
  start: string[];
  tests: { command: string[]; junit: string[]; env?: Record<string, string>; rerunPreset?: string; note?: string };
  healthPath: string;
  /** True when no path in the code looked like a health endpoint. */
  healthPathGuessed: boolean;
}

type Json = Record<string, unknown>;

async function readJson(file: string): Promise<Json | undefined> {
  try {
    const v: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}

const SOURCE = /\.(?:[cm]?[jt]s|py|go|rb|java|kt)$/;
const SKIP_DIR = new Set(['node_modules', '.git', 'vendor', 'dist', 'build', 'target', '.venv', 'venv', '__pycache__', 'coverage']);

/** Source files (at most `max`, depth 4) for a cheap look at the routes the code declares. */
async function sourceFiles(root: string, max = 400): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 4 || out.length >= max) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (out.length >= max) return;
      if (e.isDirectory() && !SKIP_DIR.has(e.name) && !e.name.startsWith('.')) await walk(join(dir, e.name), depth + 1);
      else if (e.isFile() && SOURCE.test(e.name)) out.push(join(dir, e.name));
    }
  };
  await walk(root, 0);
  return out;
}

const HEALTH_CANDIDATES = ['/healthz', '/health', '/readyz', '/ready', '/livez', '/status', '/ping'];

/** The health path the code mentions (a quoted '/healthz', '/health', ...), outside test files. */
export async function findHealthPath(root: string): Promise<string | undefined> {
  const found = new Map<string, number>();
  for (const file of await sourceFiles(root)) {
    const rel = relative(root, file);
    if (/(?:^|\/)(?:tests?|e2e|spec)\/|[._]test\.|_test\.go$|test_[^/]*\.py$/.test(rel)) continue;
    const text = await readText(file);
    for (const p of HEALTH_CANDIDATES) if (new RegExp(`["'\`]${p}/?["'\`]`).test(text)) found.set(p, (found.get(p) ?? 0) + 1);
  }
  return HEALTH_CANDIDATES.find((p) => found.has(p));
}

function nodeTests(pkg: Json, evidence: string[]): DetectedStack['tests'] {
  const deps = { ...(pkg.dependencies as Json | undefined), ...(pkg.devDependencies as Json | undefined) };
  const scripts = (pkg.scripts as Record<string, string> | undefined) ?? {};
  const testScript = scripts['test:e2e'] ?? scripts.e2e ?? scripts.test ?? '';
  if ('@playwright/test' in deps) {
    evidence.push('@playwright/test in package.json');
    return {
      command: ['npx', '--no', 'playwright', 'test', '--reporter=junit,list'],
      junit: ['{{artifacts}}/junit.xml'],
      env: { PLAYWRIGHT_JUNIT_OUTPUT_FILE: '{{artifacts}}/junit.xml' },
      rerunPreset: 'playwright',
    };
  }
  if ('vitest' in deps) {
    evidence.push('vitest in package.json');
    return {
      command: ['npx', '--no', 'vitest', 'run', '--reporter=default', '--reporter=junit', '--outputFile.junit={{artifacts}}/junit.xml'],
      junit: ['{{artifacts}}/junit.xml'],
      rerunPreset: 'vitest',
    };
  }
  if ('jest' in deps) {
    evidence.push('jest in package.json');
    const hasJunit = 'jest-junit' in deps;
    return {
      command: ['npx', '--no', 'jest', '--ci', '--reporters=default', '--reporters=jest-junit'],
      junit: ['{{artifacts}}/junit.xml'],
      env: { JEST_JUNIT_OUTPUT_DIR: '{{artifacts}}', JEST_JUNIT_OUTPUT_NAME: 'junit.xml' },
      rerunPreset: 'jest',
      ...(hasJunit ? {} : { note: 'jest writes JUnit XML through jest-junit: add it (npm i -D jest-junit)' }),
    };
  }
  const nodeTest = /node\s+(?:[^|&;]*\s)?--test\b(.*)$/.exec(testScript);
  evidence.push(nodeTest ? `"node --test" in the test script` : 'no test runner dependency: node --test assumed');
  const files =
    nodeTest?.[1]
      ?.trim()
      .split(/\s+/)
      .filter((a) => a && !a.startsWith('-')) ?? [];
  return {
    command: [
      'node',
      '--test',
      '--test-reporter=junit',
      '--test-reporter-destination={{artifacts}}/junit.xml',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      ...(files.length ? files : ['test/']),
    ],
    junit: ['{{artifacts}}/junit.xml'],
    rerunPreset: 'node-test',
  };
}

function nodeStart(pkg: Json, root: string): string[] {
  const scripts = (pkg.scripts as Record<string, string> | undefined) ?? {};
  const m = /^node\s+([\w./-]+)$/.exec(scripts.start?.trim() ?? '');
  if (m?.[1]) return ['node', m[1]];
  if (scripts.start) return ['npm', 'start', '--silent'];
  const main =
    typeof pkg.main === 'string' ? pkg.main : ['server.js', 'src/server.js', 'index.js', 'src/index.js', 'app.js'].find((f) => existsSync(join(root, f)));
  return ['node', main ?? 'server.js'];
}

// A stdlib-only project may have no packaging file at all: its entry point or pytest's files tell.
const PYTHON_MARKERS = [
  'pyproject.toml',
  'requirements.txt',
  'setup.py',
  'setup.cfg',
  'pytest.ini',
  'tox.ini',
  'Pipfile',
  'conftest.py',
  'app.py',
  'main.py',
  'server.py',
  'manage.py',
];

function firstExisting(root: string, files: string[]): string | undefined {
  return files.find((f) => existsSync(join(root, f)));
}

/** Looks at `root` and says what it is; undefined when nothing greenloop knows is there. */
export async function detectStack(root: string): Promise<DetectedStack | undefined> {
  const name =
    (root.split('/').filter(Boolean).at(-1) ?? 'app')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'app';
  const serviceName = /^[a-z]/.test(name) ? name.slice(0, 40) : `app-${name}`.slice(0, 40);
  const evidence: string[] = [];
  let partial: Omit<DetectedStack, 'healthPath' | 'healthPathGuessed' | 'serviceName' | 'evidence'> | undefined;

  const pkg = await readJson(join(root, 'package.json'));
  if (pkg) {
    evidence.push('package.json');
    partial = { stack: 'node', start: nodeStart(pkg, root), tests: nodeTests(pkg, evidence) };
  } else if (firstExisting(root, PYTHON_MARKERS)) {
    const marker = firstExisting(root, PYTHON_MARKERS) as string;
    evidence.push(marker);
    const testsDir = firstExisting(root, ['tests', 'test', 'e2e']) ?? 'tests';
    const entry = firstExisting(root, ['app.py', 'main.py', 'server.py', 'manage.py', 'wsgi.py']) ?? 'app.py';
    partial = {
      stack: 'python',
      start: entry === 'manage.py' ? ['python3', 'manage.py', 'runserver', '--noreload'] : ['python3', entry],
      tests: {
        command: ['python3', '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '--junitxml={{artifacts}}/junit.xml', testsDir],
        junit: ['{{artifacts}}/junit.xml'],
        rerunPreset: 'pytest',
      },
    };
  } else if (existsSync(join(root, 'go.mod'))) {
    evidence.push('go.mod');
    partial = {
      stack: 'go',
      start: ['go', 'run', '.'],
      tests: {
        command: ['gotestsum', '--junitfile', '{{artifacts}}/junit.xml', '--', '-count=1', './...'],
        junit: ['{{artifacts}}/junit.xml'],
        rerunPreset: 'go',
      },
    };
  } else if (existsSync(join(root, 'Gemfile'))) {
    const gemfile = await readText(join(root, 'Gemfile'));
    evidence.push(/rspec/.test(gemfile) ? 'Gemfile with rspec' : 'Gemfile');
    partial = {
      stack: 'ruby',
      start: existsSync(join(root, 'config.ru')) ? ['bundle', 'exec', 'rackup'] : ['ruby', firstExisting(root, ['app.rb', 'server.rb']) ?? 'app.rb'],
      tests: {
        command: ['rspec', '--format', 'progress', '--format', 'RspecJunitFormatter', '--out', '{{artifacts}}/junit.xml'],
        junit: ['{{artifacts}}/junit.xml'],
        note: 'rspec writes JUnit XML through rspec_junit_formatter (Debian: ruby-rspec-junit-formatter)',
      },
    };
  } else if (existsSync(join(root, 'pom.xml'))) {
    evidence.push('pom.xml');
    partial = {
      stack: 'maven',
      start: ['mvn', '-q', 'spring-boot:run'],
      tests: { command: ['mvn', '-q', 'verify'], junit: ['target/surefire-reports/*.xml', 'target/failsafe-reports/*.xml'], rerunPreset: 'maven' },
    };
  }
  if (!partial) return undefined;
  const health = await findHealthPath(root);
  return { ...partial, serviceName, evidence, healthPath: health ?? '/', healthPathGuessed: health === undefined };
}
