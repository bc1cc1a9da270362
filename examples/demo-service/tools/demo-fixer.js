#!/usr/bin/env node
// demo-fixer — a STAND-IN for an AI coding agent, used only by the greenloop demo.
//
// It does not analyse anything. It carries a small table of prepared fixes for
// the bugs seeded in this demo service and applies the one(s) whose pattern
// matches the failure cluster it is given. That keeps the demo deterministic,
// offline and free, while exercising the same contract a real fixer has:
//
//   cwd      a fresh git worktree of the repository under test
//   argv[2]  path to a JSON file describing ONE failure cluster:
//            { fingerprint, title, triage, sampleMessage,
//              tests: [{ id, name, classname, message }] }
//   env      GREENLOOP_PROMPT_FILE — the markdown prompt an AI agent would
//            read (ignored here)
//
// Behaviour:
//   - a prepared fix matches → apply its exact find → replace edits to files
//     under src/, print what changed, exit 0
//   - nothing matches        → print "no prepared fix for <title>", exit 0, change nothing
//   - a fix matches but its find text is not in the file (exactly as often as
//     expected) → print why and exit 1 without writing anything
// It never touches e2e/: the tests are the specification.
//
// `--hurried <attempt>` (pass {{attempt}}) makes it a fixer that is sometimes wrong on its first try, as
// agents are: for a fix with a `firstGuess`, attempt 1 applies that plausible but wrong change (it passes
// any compile or lint check; only the cluster's own tests show it does not hold). A later attempt (told
// that attempt 1 did not hold), or a run that finds its guess already in the code (a previous cycle
// integrated it and the failure persisted), applies the right fix. Used by the fixer.proveOnDeploy
// environments of greenloop.yaml; the `demo` environment never passes it.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @typedef {{ file: string, find: string, replace: string, occurrences?: number }} Edit
 * @typedef {{ id: string, description: string, matches: (message: string) => boolean, edits: Edit[], firstGuess?: { description: string, edits: Edit[] } }} Fix
 * @type {Fix[]}
 */
const FIXES = [
  {
    id: 'agents-start-route',
    description: 'register the POST /api/agents/start route',
    matches: (m) => m.includes('/api/agents/start') && /\b404\b/.test(m),
    edits: [
      {
        file: 'src/routes.js',
        // The find spans two lines so that it no longer matches once applied.
        find: "  ['GET', '/api/agents/:id', agents.getAgent],\n  ['POST', '/api/agents/stop', agents.stopAgent],\n",
        replace:
          "  ['GET', '/api/agents/:id', agents.getAgent],\n" +
          "  ['POST', '/api/agents/start', agents.startAgent],\n" +
          "  ['POST', '/api/agents/stop', agents.stopAgent],\n",
      },
    ],
    // Copied from the GET line above it: the route exists, but not for the POST the suite sends.
    firstGuess: {
      description: 'register the /api/agents/start route (as GET, like its neighbours)',
      edits: [
        {
          file: 'src/routes.js',
          find: "  ['POST', '/api/agents/stop', agents.stopAgent],\n",
          replace: "  ['POST', '/api/agents/stop', agents.stopAgent],\n  ['GET', '/api/agents/start', agents.startAgent],\n",
        },
      ],
    },
  },
  {
    id: 'chat-audience',
    description: 'check chat tokens against the configured audience',
    matches: (m) => m.includes('/api/chat/messages') && /\b403\b/.test(m),
    edits: [
      {
        file: 'src/handlers/chat.js',
        find: "authenticate(req, { audience: 'chat-api' })",
        replace: 'authenticate(req, { audience: config.chatAudience })',
        occurrences: 2,
      },
    ],
  },
  {
    id: 'realtime-timestamp',
    description: 'do not require clients to send sentAt on WebSocket messages',
    matches: (m) => /WebSocket closed with code 1011\b/.test(m),
    edits: [
      {
        file: 'src/handlers/realtime.js',
        find: 'return new Date(message.sentAt).toISOString();',
        replace: 'return new Date(message.sentAt ?? Date.now()).toISOString();',
      },
    ],
  },
  {
    id: 'agents-stop-uptime',
    description: 'compute session uptime from the ISO startedAt string',
    matches: (m) => m.includes('/api/agents/stop') && /\b500\b/.test(m),
    edits: [
      {
        file: 'src/handlers/agents.js',
        find: 'Date.now() - session.startedAt.getTime()',
        replace: 'Date.now() - Date.parse(session.startedAt)',
      },
    ],
  },
];

function fail(message) {
  console.error(`demo-fixer: ${message}`);
  process.exit(1);
}

function countOccurrences(text, find) {
  return text.split(find).length - 1;
}

/** Every message in the cluster, matched one at a time so that fragments of different failures cannot combine. */
function clusterMessages(cluster) {
  const messages = [cluster.sampleMessage, cluster.title];
  for (const test of cluster.tests ?? []) messages.push(test.message, test.name);
  return messages.filter((m) => typeof m === 'string' && m !== '');
}

/** Resolves a fix's file and refuses anything outside src/ (e2e/ above all). */
function resolveSourceFile(file) {
  const srcDir = path.resolve('src');
  const resolved = path.resolve(file);
  if (!resolved.startsWith(srcDir + path.sep)) fail(`refusing to edit ${file}: prepared fixes may only touch src/`);
  return resolved;
}

/** The hurried fixer's first try: the guess, while it applies to the code and is not in it already. */
function firstTry(fix, files) {
  const guess = fix.firstGuess;
  if (!guess) return fix;
  const applies = guess.edits.every((e) => {
    const text = files(e.file);
    return countOccurrences(text, e.find) === (e.occurrences ?? 1) && !text.includes(e.replace);
  });
  return applies ? { ...fix, description: guess.description, edits: guess.edits } : fix;
}

function main() {
  const [clusterFile, flag, attemptArg] = process.argv.slice(2);
  if (!clusterFile) fail('usage: node tools/demo-fixer.js <cluster.json> [--hurried <attempt>]');
  const hurried = flag === '--hurried';
  const attempt = hurried ? Number(attemptArg) : 1;
  if (hurried && !(attempt >= 1)) fail(`--hurried needs the attempt number ({{attempt}}), got ${attemptArg}`);

  let cluster;
  try {
    cluster = JSON.parse(readFileSync(clusterFile, 'utf8'));
  } catch (err) {
    fail(`cannot read cluster file ${clusterFile}: ${err.message}`);
  }
  const title = cluster.title ?? cluster.fingerprint ?? '(untitled cluster)';
  console.log(`demo-fixer: cluster ${cluster.fingerprint ?? '?'}: ${title}`);

  const messages = clusterMessages(cluster);
  const matching = FIXES.filter((fix) => messages.some((message) => fix.matches(message)));
  const read = (file) => {
    try {
      return readFileSync(resolveSourceFile(file), 'utf8');
    } catch {
      return '';
    }
  };
  const fixes = hurried && attempt === 1 ? matching.map((fix) => firstTry(fix, read)) : matching;
  if (fixes.length === 0) {
    console.log(`no prepared fix for ${title}`);
    return;
  }

  // Check every edit before writing anything, so a stale fix leaves the tree untouched.
  /** @type {Map<string, string>} resolved path → new content */
  const pending = new Map();
  for (const fix of fixes) {
    for (const edit of fix.edits) {
      const file = resolveSourceFile(edit.file);
      let content = pending.get(file);
      if (content === undefined) {
        try {
          content = readFileSync(file, 'utf8');
        } catch (err) {
          fail(`fix ${fix.id}: cannot read ${edit.file}: ${err.message}`);
        }
      }
      const expected = edit.occurrences ?? 1;
      const found = countOccurrences(content, edit.find);
      if (found !== expected) {
        fail(`fix ${fix.id}: expected ${expected} occurrence(s) of the find text in ${edit.file}, found ${found}:\n${edit.find}`);
      }
      pending.set(file, content.replaceAll(edit.find, edit.replace));
    }
  }

  for (const [file, content] of pending) writeFileSync(file, content);
  for (const fix of fixes) {
    console.log(`applied ${fix.id}: ${fix.description}`);
    for (const edit of fix.edits) {
      console.log(`  ${edit.file}`);
      for (const line of edit.find.trimEnd().split('\n')) console.log(`  - ${line}`);
      for (const line of edit.replace.trimEnd().split('\n')) console.log(`  + ${line}`);
    }
  }
}

main();
