// Attack suite, leak scan (runs in CI, long): a loop on a scratch copy of the demo whose service logs,
// test output, failure messages and fixer output print planted secrets of every kind the redactor knows,
// plus the literal values of greenloop's own secrets (bootstrap token, token secret, Slack and webhook
// URLs, webhook secret, a passEnv credential). Then every output a person or an agent can see is
// scanned: reports, dossiers, prompts, fix results, the event stream (XRANGE and SSE), the API's views
// and every artifact as a viewer gets it, worker log lines, Slack and webhook bodies. Raw evidence
// (test stdout, service logs, fixer output) stays on disk as written and is served raw to admins only;
// everyone else gets it through the redactor. Prints `where | files/items scanned | secrets found`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANTED_SECRETS } from '../packages/core/src/planted-secrets.ts';
import { demoHarness, type Harness, type Stack, startStack, withDemoSettings } from './demo-harness.ts';

const rand = () => randomBytes(12).toString('hex');

/** greenloop's own secrets, by value: in the worker's environment, never known to the scripts below except as stolen text. */
const ENV_SECRETS = {
  GREENLOOP_TOKEN_SECRET: `tsec-${rand()}${rand()}`,
  LEAK_HOOK_SECRET: `hooksecret-${rand()}`,
  LEAK_PASS_TOKEN: `passenv-cred-${rand()}`,
};

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
  let slack: Awaited<ReturnType<typeof receiver>>;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const logLines: string[] = [];
  /** Every secret value to look for, with its kind. */
  const secrets: [kind: string, value: string][] = [];

  beforeAll(async () => {
    slack = await receiver();
    hook = await receiver();
    h = demoHarness({ GREENLOOP_TOKEN_SECRET: ENV_SECRETS.GREENLOOP_TOKEN_SECRET });
    const env = {
      ...ENV_SECRETS,
      GREENLOOP_API_TOKEN: h.token,
      // Webhook URLs are credentials: their literal values are known secrets.
      LEAK_SLACK_URL: `${slack.url}/services/T0LEAK/B0LEAK/${rand()}`,
      LEAK_HOOK_URL: `${hook.url}/hooks/${rand()}`,
    };
    for (const [name, value] of Object.entries(env)) secrets.push([`env ${name}`, value]);
    for (const [secret, line] of PLANTED_SECRETS) secrets.push([`shape: ${line.slice(0, 28).replace(/\n/g, ' ')}…`, secret]);

    // What every hostile script prints: every planted shape, and greenloop's secrets as a fixer that
    // read /proc/$PPID/environ (or a test that echoed its config) would print them.
    const lines = [
      ...PLANTED_SECRETS.map(([, line]) => line),
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      `stolen ${env.LEAK_PASS_TOKEN} ${env.LEAK_SLACK_URL}`,
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
      `import { leak } from './leak.js';\nleak();\nconsole.log('passEnv gave me', process.env.LEAK_PASS_TOKEN);\nprocess.exit(1);\n`,
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
      .replace('loop: { maxCycles: 6, maxDuration: 10m, noProgressCycles: 3 }', 'loop: { maxCycles: 2, maxDuration: 10m, noProgressCycles: 3 }');
    config = withDemoSettings(
      config,
      '    notifications:\n      slack: { webhookUrlEnv: LEAK_SLACK_URL }\n      webhook: { urlEnv: LEAK_HOOK_URL, secretEnv: LEAK_HOOK_SECRET }\n',
    );
    expect(config).toContain('leaky-server.js');
    expect(config).toContain('leaky-fixer.js');
    expect(config).toContain('maxCycles: 2');
    writeFileSync(join(r, 'greenloop.yaml'), config);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: r, stdio: 'pipe' });
    git('add', '-A');
    git('commit', '-q', '-m', 'leaky scripts');

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
    slack?.server.closeAllConnections();
    hook?.server.closeAllConnections();
    slack?.server.close();
    hook?.server.close();
  }, 90_000);

  it('0 secrets in reports, dossiers, prompts, fix results, events, API views, artifacts, logs, Slack and webhooks', { timeout: 300_000 }, async () => {
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

    const rows: { where: string; items: number; found: string[] }[] = [];
    const scan = (where: string, items: { name: string; text: string }[]) => {
      const found: string[] = [];
      for (const it of items)
        for (const [kind, value] of secrets) {
          const at = it.text.indexOf(value);
          if (at >= 0) found.push(`${kind} in ${it.name}: …${JSON.stringify(it.text.slice(Math.max(0, at - 60), at + value.length + 20))}`);
        }
      rows.push({ where, items: items.length, found });
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
    }
    scan(
      'API views (loop, loops, cycles, reports)',
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

    scan(
      'worker + API log lines',
      logLines.map((text, i) => ({ name: `log ${i}`, text })),
    );
    scan(
      'Slack bodies',
      slack.received.map((m, i) => ({ name: `slack ${i}`, text: m.body })),
    );
    scan(
      'webhook bodies',
      hook.received.map((m, i) => ({ name: `webhook ${i} ${m.path}`, text: m.body })),
    );

    const table = ['where | files/items scanned | secrets found', ...rows.map((r) => `${r.where} | ${r.items} | ${r.found.length}`)];
    console.log(`\n${table.join('\n')}\n`);
    for (const r of rows) if (r.found.length) console.log(`${r.where}:\n  ${r.found.slice(0, 20).join('\n  ')}`);

    // Not vacuous: the secrets did reach the raw evidence, and every boundary had something to scan.
    const rawOut = files
      .filter((f) => /stdout|\.log$/.test(f))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(secrets.filter(([, v]) => rawOut.includes(v)).length, 'planted secrets in raw evidence').toBeGreaterThan(secrets.length / 2);
    const adminRaw = files.find((f) => /fixer\.stdout\.log$/.test(f));
    expect(adminRaw, 'a fixer ran').toBeDefined();
    if (adminRaw) expect((await get(`/v1/loops/${id}/artifacts/${relative(artifacts, adminRaw)}`, admin)).text).toContain(ENV_SECRETS.LEAK_PASS_TOKEN);
    for (const r of rows) expect(r.items, `${r.where} had something to scan`).toBeGreaterThan(0);
    expect(rows.flatMap((r) => r.found)).toEqual([]);
  });
});
