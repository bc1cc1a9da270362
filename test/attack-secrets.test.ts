// Attack suite, leak scan (runs in CI, long): a loop on a scratch copy of the demo whose service logs,
// test output, failure messages and fixer output print planted secrets of every kind the redactor knows,
// plus the literal values of greenloop's own secrets (bootstrap token, token secret, Slack and webhook
// URLs, webhook secret, a passEnv credential). Then every output a person or an agent can see is
// scanned: reports, dossiers, prompts, fix results, the event stream (XRANGE and SSE), the API's views
// (insights included) and every artifact as a viewer gets it (from disk, then from the bucket alone),
// the objects in the Cloud Storage artifact store, worker log lines, the Slack bot thread (every
// chat.postMessage / chat.update as sent), the pull request's title, body and a later loop's comment
// (every request the GitHub API got), and webhook bodies. Raw evidence (test stdout, service logs,
// fixer output) is kept as written, on disk and in the bucket, and served raw to admins only; everyone
// else gets it through the redactor. Prints `where | files/items scanned | secrets found`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@greenloop/core';
import { FakeGcs } from '@greenloop/core/fake-gcs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubHost } from '../apps/worker/src/publish/github.ts';
import { publishPullRequest } from '../apps/worker/src/publish/publish-pull-request.ts';
import { FakeGitHub } from '../apps/worker/src/test-support/fake-github.ts';
import { type FakeSlack, startFakeSlack } from '../apps/worker/src/test-support/fake-slack.ts';
import { PLANTED_SECRETS } from '../packages/core/src/planted-secrets.ts';
import { demoHarness, type Harness, type Stack, startStack, withDemoSettings } from './demo-harness.ts';

const rand = () => randomBytes(12).toString('hex');

/** greenloop's own secrets, by value: in the worker's environment, never known to the scripts below except as stolen text. */
const ENV_SECRETS = {
  GREENLOOP_TOKEN_SECRET: `tsec-${rand()}${rand()}`,
  LEAK_HOOK_SECRET: `hooksecret-${rand()}`,
  LEAK_PASS_TOKEN: `passenv-cred-${rand()}`,
  LEAK_SLACK_BOT: `xoxb-leak-${rand()}`,
  LEAK_GH_TOKEN: `ghp_${rand()}${rand()}`.slice(0, 40),
};
const CHANNEL = 'C0LEAKTHREAD';
const REPOSITORY = 'acme/leaky';
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

interface Received {
  path: string;
  body: string;
}

function receiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })),
  );
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('attack: planted secrets never leave greenloop unredacted', () => {
  let h: Harness;
  let stack: Stack | undefined;
  let slackHook: Awaited<ReturnType<typeof receiver>>;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let slack: FakeSlack;
  let github: FakeGitHub;
  let gcs: FakeGcs;
  const logLines: string[] = [];
  /** Every secret value to look for, with its kind. */
  const secrets: [kind: string, value: string][] = [];

  beforeAll(async () => {
    slackHook = await receiver();
    hook = await receiver();
    slack = await startFakeSlack({ tokens: [ENV_SECRETS.LEAK_SLACK_BOT], channels: { [CHANNEL]: {} }, minPostIntervalMs: 0 });
    gcs = await new FakeGcs('gl-leak').start();
    h = demoHarness({
      GREENLOOP_TOKEN_SECRET: ENV_SECRETS.GREENLOOP_TOKEN_SECRET,
      GREENLOOP_SLACK_API_URL: slack.apiUrl,
      GREENLOOP_ARTIFACTS: 'gcs',
      GREENLOOP_ARTIFACTS_BUCKET: 'gl-leak',
      GREENLOOP_ARTIFACTS_ENDPOINT: gcs.endpoint,
    });
    const bare = join(h.dir, 'github.git');
    git(h.dir, 'init', '-q', '--bare', '-b', 'main', bare);
    github = await FakeGitHub.start({ repository: REPOSITORY, token: ENV_SECRETS.LEAK_GH_TOKEN, gitDir: bare });
    git(h.repo, 'remote', 'add', 'origin', github.gitUrl);
    const env = {
      ...ENV_SECRETS,
      GREENLOOP_API_TOKEN: h.token,
      // Webhook URLs are credentials: their literal values are known secrets (bot mode wins; the
      // Slack webhook is configured as its fallback, so its URL is one of the secrets greenloop knows).
      LEAK_SLACK_URL: `${slackHook.url}/services/T0LEAK/B0LEAK/${rand()}`,
      LEAK_HOOK_URL: `${hook.url}/hooks/${rand()}`,
    };
    for (const [name, value] of Object.entries(env)) secrets.push([`env ${name}`, value]);
    for (const [secret, line] of PLANTED_SECRETS) secrets.push([`shape: ${line.slice(0, 28).replace(/\n/g, ' ')}…`, secret]);

    // What every hostile script prints: every planted shape, and greenloop's secrets as a fixer that
    // read /proc/$PPID/environ (or a test that echoed its config) would print them.
    const lines = [
      ...PLANTED_SECRETS.map(([, line]) => line),
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      `stolen ${env.LEAK_PASS_TOKEN} ${env.LEAK_SLACK_URL} ${env.LEAK_SLACK_BOT} ${env.LEAK_GH_TOKEN}`,
    ];
    const r = h.repo;
    writeFileSync(join(r, 'tools', 'planted.json'), JSON.stringify(lines));
    writeFileSync(
      join(r, 'tools', 'leak.js'),
      `import { readFileSync } from 'node:fs';\nexport const lines = JSON.parse(readFileSync(new URL('./planted.json', import.meta.url), 'utf8'));\nexport function leak() { for (const l of lines) { console.log(l); console.error(l); } }\n`,
    );
    writeFileSync(join(r, 'tools', 'leaky-server.js'), `import { leak } from './leak.js';\nleak();\nawait import('../src/server.js');\n`);
    writeFileSync(
      join(r, 'tools', 'leaky-fixer.js'),
      // Then the demo's own fixer, so fixes land on the loop branch and the loop opens a pull request; where
      // it has no fix (the leak test's own cluster), a failure whose last words are the secrets, which the
      // fix result's reason quotes from the output's tail.
      `import { execFileSync } from 'node:child_process';\nimport { leak } from './leak.js';\nleak();\nconsole.log('passEnv gave me', process.env.LEAK_PASS_TOKEN);\nawait import('./demo-fixer.js');\n` +
        `if (!execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim()) { leak(); process.exit(1); }\n`,
    );
    writeFileSync(
      join(r, 'e2e', 'leak.test.js'),
      `import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { leak, lines } from '../tools/leak.js';\n` +
        `test('leaks > prints and fails with every planted secret', async () => {\n  leak();\n` +
        `  await fetch(process.env.GREENLOOP_URL_API + '/api/leak?' + new URLSearchParams({ token: 'qs-token-123', note: lines.join(' ') }), { headers: { authorization: 'Bearer tok3n-abcdefgh1234', cookie: 'session=c2Vzc2lvbi1pZD1hYmMxMjM' } }).catch(() => {});\n` +
        `  assert.fail(lines.join('\\n'));\n});\n`,
    );
    let config = readFileSync(join(r, 'greenloop.yaml'), 'utf8')
      .replace('command: ["node", "src/server.js"]', 'command: ["node", "tools/leaky-server.js"]')
      .replace(
        'command: ["node", "tools/demo-fixer.js", "{{clusterFile}}"]',
        'command: ["node", "tools/leaky-fixer.js", "{{clusterFile}}"]\n      passEnv: [LEAK_PASS_TOKEN]',
      )
      .replace(
        'loop: { maxCycles: 6, maxDuration: 10m, noProgressCycles: 3 }',
        `loop: { maxCycles: 2, maxDuration: 10m, noProgressCycles: 3, push: { remote: origin, tokenEnv: LEAK_GH_TOKEN } }\n    pullRequest: { repository: ${REPOSITORY}, tokenEnv: LEAK_GH_TOKEN, apiUrl: "${github.apiUrl}" }`,
      );
    config = withDemoSettings(
      config,
      `    notifications:\n      slack: { botTokenEnv: LEAK_SLACK_BOT, channel: ${CHANNEL}, webhookUrlEnv: LEAK_SLACK_URL }\n      webhook: { urlEnv: LEAK_HOOK_URL, secretEnv: LEAK_HOOK_SECRET }\n`,
    );
    expect(config).toContain('leaky-server.js');
    expect(config).toContain('leaky-fixer.js');
    expect(config).toContain('maxCycles: 2');
    expect(config).toContain('pullRequest:');
    writeFileSync(join(r, 'greenloop.yaml'), config);
    git(r, 'add', '-A');
    git(r, 'commit', '-q', '-m', 'leaky scripts');
    git(r, 'push', '-q', bare, 'HEAD:refs/heads/main');

    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) logLines.push(l);
        cb();
      },
    });
    const log = createLogger('attack-secrets', 'debug', sink);
    stack = await startStack(h, { ...process.env, ...env }, log);
  });

  afterAll(async () => {
    await stack?.close();
    await h?.cleanup();
    await slack?.close();
    await github?.close();
    await gcs?.stop();
    for (const r of [slackHook, hook]) {
      r?.server.closeAllConnections();
      r?.server.close();
    }
  }, 90_000);

  it('0 secrets in reports, dossiers, prompts, fix results, events, API views, insights, artifacts (disk and bucket), logs, Slack, pull requests and webhooks', {
    timeout: 400_000,
  }, async () => {
    const { apiUrl, auth: admin } = stack!;
    const created = await fetch(`${apiUrl}/v1/tokens`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'leak-viewer', role: 'viewer' }),
    });
    expect(created.status).toBe(201);
    const viewer = { authorization: `Bearer ${((await created.json()) as { token: string }).token}` };
    const id = await stack!.startLoop('demo');
    const loop = await h.waitForEnd(id, 280_000);

    // `redacted`: items where the redactor's marks show, i.e. secret-bearing text did reach this output.
    const rows: { where: string; items: number; redacted: number; found: string[] }[] = [];
    const scan = (where: string, items: { name: string; text: string }[]) => {
      const found: string[] = [];
      const redacted = items.filter((it) => it.text.includes('[redacted')).length;
      for (const it of items)
        for (const [kind, value] of secrets) {
          const at = it.text.indexOf(value);
          if (at >= 0) found.push(`${kind} in ${it.name}: …${JSON.stringify(it.text.slice(Math.max(0, at - 60), at + value.length + 20))}`);
        }
      rows.push({ where, items: items.length, redacted, found });
    };
    const get = async (path: string, headers: Record<string, string> = viewer) => {
      const r = await fetch(`${apiUrl}${path}`, { headers });
      return { status: r.status, text: await r.text() };
    };

    // Files greenloop writes for people and agents.
    const artifacts = join(h.env.home, 'artifacts', id);
    const files = walk(artifacts);
    const read = (p: string) => ({ name: relative(artifacts, p), text: readFileSync(p, 'utf8') });
    const isReport = (p: string) => /report\.(md|json)$/.test(p);
    const isDossier = (p: string) => /\/clusters\//.test(p);
    const isPrompt = (p: string) => p.endsWith('prompt.md');
    const isFixResult = (p: string) => /\/fix\/.*(result|gates)\.json$/.test(p);
    scan('report.md / report.json', files.filter(isReport).map(read));
    scan('dossiers (clusters/*)', files.filter(isDossier).map(read));
    scan('fixer prompts (prompt.md)', files.filter(isPrompt).map(read));
    scan('fix results (result.json, gates.json)', files.filter(isFixResult).map(read));

    // Events as stored and as streamed.
    const xr = async (key: string) =>
      ((await h.store.redis.xrange(key, '-', '+')) as [string, string[]][]).map(([eid, f]) => ({ name: eid, text: f.join(' ') }));
    scan('event streams (XRANGE, loop + all)', [...(await xr(h.store.key('events', id))), ...(await xr(h.store.key('events')))]);
    const sse = await get(`/v1/loops/${id}/events`);
    scan('SSE /v1/loops/:id/events (viewer)', [{ name: 'sse', text: sse.text }]);

    // API views as a viewer sees them.
    const views = [await get(`/v1/loops/${id}`), await get('/v1/loops')];
    for (let n = 1; n <= loop.cycle; n++) {
      views.push(await get(`/v1/loops/${id}/cycles/${n}`));
      views.push(await get(`/v1/loops/${id}/cycles/${n}/report`));
      const md = await fetch(`${apiUrl}/v1/loops/${id}/cycles/${n}/report`, { headers: { ...viewer, accept: 'text/markdown' } });
      views.push({ status: md.status, text: await md.text() });
      views.push(await get(`/v1/loops/${id}/cycles/${n}/evidence`));
    }
    views.push(await get('/v1/workers'), await get('/metrics'), await get('/v1/audit', admin));
    expect(views.filter((v) => v.status !== 200).map((v) => v.status)).toEqual([]);
    const insights = [await get('/v1/insights/clusters'), await get('/v1/insights/flaky'), await get('/v1/insights/trends')];
    expect(insights.map((v) => v.status)).toEqual([200, 200, 200]);
    expect(insights[0]?.text, "this loop's clusters are in the insights").toContain(id);
    scan(
      'GET /v1/insights/{clusters,flaky,trends} (viewer)',
      insights.map((v, i) => ({ name: `insights ${i}`, text: v.text })),
    );
    scan(
      'API views (loop, loops, cycles, reports, evidence, workers, metrics; audit as admin)',
      views.map((v, i) => ({ name: `view ${i} (${v.status})`, text: v.text })),
    );

    // Every artifact, raw evidence included, as a viewer gets it; binary ones are admin-only.
    const served: { name: string; text: string }[] = [];
    let adminOnly = 0;
    for (const f of files) {
      const rel = relative(artifacts, f);
      const r = await get(`/v1/loops/${id}/artifacts/${rel.split('/').map(encodeURIComponent).join('/')}`);
      if (r.status === 403) adminOnly++;
      else served.push({ name: rel, text: r.text });
    }
    scan(`artifacts via API as viewer (${adminOnly} admin-only)`, served);

    // Slack in bot mode: every call the Web API got (parents, replies, edits in place), as sent.
    expect(slack.messages.filter((m) => m.threadTs).length, 'replies in the loop thread').toBeGreaterThan(0);
    scan(
      'Slack bot thread (chat.postMessage / chat.update as sent)',
      slack.calls.map((c, i) => ({ name: `slack ${i} ${c.method}`, text: JSON.stringify(c.args) })),
    );
    scan(
      'webhook bodies',
      hook.received.map((m, i) => ({ name: `webhook ${i} ${m.path}`, text: m.body })),
    );

    // The pull request the loop opened, then a later publication's comment (a person has since rewritten
    // the description, so greenloop leaves it alone and comments): everything the GitHub API was sent.
    for (const deadline = Date.now() + 60_000; !github.pulls.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
    expect(github.pulls, 'the loop opened a pull request').toHaveLength(1);
    expect(github.pulls[0]?.body, 'the failures that print secrets are in the pull request, redacted').toContain('[redacted');
    (github.pulls[0] as { body: string }).body = 'Rewritten by a person.';
    const prLog = createLogger('attack-secrets-pr', 'silent');
    const host = () => githubHost({ repository: REPOSITORY, token: ENV_SECRETS.LEAK_GH_TOKEN, tokenEnv: 'LEAK_GH_TOKEN', log: prLog, apiUrl: github.apiUrl });
    expect(await publishPullRequest({ store: h.store, host, repo: h.repo, links: {}, log: prLog }, id)).toMatchObject({ status: 'commented' });
    expect(github.comments).toHaveLength(1);
    scan('pull request title, body, comment (GitHub API requests)', [
      ...github.requests.filter((q) => q.body !== undefined).map((q, i) => ({ name: `github ${i} ${q.method} ${q.path}`, text: JSON.stringify(q.body) })),
      ...github.comments.map((c) => ({ name: `comment ${c.id}`, text: c.body })),
    ]);

    // Cloud Storage: the objects people and agents read (reports, dossiers, prompts, fix results); raw
    // evidence objects are kept as written, like the files on disk.
    const objects = [...gcs.objects]
      .filter(([name]) => name.startsWith(`greenloop/${id}/`))
      .map(([name, o]) => ({ rel: name.slice(`greenloop/${id}/`.length), data: o.data }));
    const personFacing = (rel: string) => [isReport, isDossier, isPrompt, isFixResult].some((f) => f(`/${rel}`));
    scan(
      `GCS objects read by people and agents (${objects.length} objects in the bucket)`,
      objects.filter((o) => personFacing(o.rel)).map((o) => ({ name: o.rel, text: o.data.toString('utf8') })),
    );
    // Not vacuous: the secrets did reach the raw evidence; below, a failed fixer's reason quotes its output
    // (redacted), and every boundary had something to scan.
    const rawOut = files
      .filter((f) => /stdout|\.log$/.test(f))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(secrets.filter(([, v]) => rawOut.includes(v)).length, 'planted secrets in raw evidence').toBeGreaterThan(secrets.length / 2);
    const adminRaw = files.find((f) => /fixer\.stdout\.log$/.test(f));
    expect(adminRaw, 'a fixer ran').toBeDefined();
    if (adminRaw) expect((await get(`/v1/loops/${id}/artifacts/${relative(artifacts, adminRaw)}`, admin)).text).toContain(ENV_SECRETS.LEAK_PASS_TOKEN);

    // The same artifacts once the worker's copy is gone: the API serves them from the bucket alone.
    rmSync(artifacts, { recursive: true, force: true });
    const fromBucket: { name: string; text: string }[] = [];
    let bucketAdminOnly = 0;
    for (const o of objects) {
      const r = await get(`/v1/loops/${id}/artifacts/${o.rel.split('/').map(encodeURIComponent).join('/')}`);
      if (r.status === 403) bucketAdminOnly++;
      else fromBucket.push({ name: `${o.rel} (${r.status})`, text: r.text });
    }
    expect(fromBucket.filter((f) => !f.name.endsWith('(200)'))).toEqual([]);
    scan(`artifacts via API from the bucket as viewer (${bucketAdminOnly} admin-only)`, fromBucket);
    // Last: everything above was logged by now.
    scan(
      'worker + API log lines',
      logLines.map((text, i) => ({ name: `log ${i}`, text })),
    );
    const table = [
      'where | files/items scanned | items showing [redacted…] | secrets found',
      ...rows.map((r) => `${r.where} | ${r.items} | ${r.redacted} | ${r.found.length}`),
    ];
    console.log(`\n${table.join('\n')}\n`);
    for (const r of rows) if (r.found.length) console.log(`${r.where}:\n  ${r.found.slice(0, 20).join('\n  ')}`);
    // Not vacuous here either: the bucket holds the raw evidence with the secrets in it.
    const rawObjects = objects
      .filter((o) => /stdout|\.log$/.test(o.rel))
      .map((o) => o.data.toString('utf8'))
      .join('\n');
    expect(secrets.filter(([, v]) => rawObjects.includes(v)).length, 'planted secrets in raw evidence in the bucket').toBeGreaterThan(secrets.length / 2);
    expect(rows.find((r) => r.where.startsWith('fix results'))?.redacted, 'fix results quoting the fixer output').toBeGreaterThan(0);
    for (const r of rows) expect(r.items, `${r.where} had something to scan`).toBeGreaterThan(0);
    expect(rows.flatMap((r) => r.found)).toEqual([]);
  });
});
