// proveFix against real parts: a git repository with a small HTTP service and a suite that writes JUnit,
// deployed by the local provider as real child processes; and a Cloud Run service deployed as a tagged
// 0%-traffic candidate through the real @google-cloud/run client against the local fake, then withdrawn.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type DeployedService, EnvironmentSchema } from '@greenloop/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudRunProvider } from '../deploy/cloud-run.ts';
import { LocalProvider } from '../deploy/local.ts';
import type { DeployProvider } from '../deploy/types.ts';
import { isAlive } from '../process/run-command.ts';
import { FakeGoogle } from '../test-support/fake-google.ts';
import { fixCandidateTag, type ProofRecord, type ProveRequest, proveFix } from './prove-on-deploy.ts';

const log = createLogger('test', 'silent');
const SANDBOX_OFF = { mode: 'off', hide: [] } as const;

// The service answers GET /answer with the contents of answer.txt; the suite's one test wants 42.
const SERVER = `import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.end(readFileSync('answer.txt', 'utf8').trim());
}).listen(Number(process.env.PORT), '127.0.0.1');
`;
const SUITE = `import { writeFileSync } from 'node:fs';
const url = process.env.GREENLOOP_URL_API;
writeFileSync(process.env.GREENLOOP_ARTIFACTS + '/url.txt', url);
let failure = '';
if (url.startsWith('http://')) {
  const got = (await (await fetch(url + '/answer')).text()).trim();
  if (got !== '42') failure = 'GET /answer: expected 42, got ' + got;
}
const body = failure ? '<failure message="' + failure + '"/>' : '';
writeFileSync(process.env.GREENLOOP_ARTIFACTS + '/junit.xml',
  '<testsuites><testsuite name="answer"><testcase classname="answer" name="answers 42">' + body + '</testcase></testsuite></testsuites>');
process.exit(failure ? 1 : 0);
`;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: 'pipe' })
    .toString()
    .trim();
}

/** A commit on top of main with `files` changed (main itself stays). */
function commitOnTop(repo: string, files: Record<string, string>): string {
  const base = git(repo, 'rev-parse', 'main');
  git(repo, 'checkout', '-q', '--detach', base);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(repo, f), text);
  git(repo, 'commit', '-qam', 'fix');
  const sha = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', 'main');
  return sha;
}

describe('proveFix', () => {
  let dir: string;
  let repo: string;
  let clusterFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gl-prove-'));
    repo = join(dir, 'repo');
    mkdirSync(repo);
    writeFileSync(join(repo, 'server.js'), SERVER);
    writeFileSync(join(repo, 'suite.js'), SUITE);
    writeFileSync(join(repo, 'answer.txt'), '40\n');
    writeFileSync(join(repo, 'README.md'), 'answers\n');
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'seeded bug');
    clusterFile = join(dir, 'cluster.json');
    // What the cycle's analysis wrote: the test and how it failed (on another port, at another time).
    writeFileSync(clusterFile, JSON.stringify({ tests: [{ classname: 'answer', name: 'answers 42', message: 'GET /answer: expected 42, got 40' }] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const env = (deploy: Record<string, unknown>) =>
    EnvironmentSchema.parse({
      services: [{ name: 'api', deploy }],
      tests: { command: ['node', 'suite.js'], junit: ['{{artifacts}}/junit.xml'], timeout: '30s' },
    });
  const request = (over: Partial<ProveRequest> & Pick<ProveRequest, 'commit' | 'environment' | 'provider'>): ProveRequest => ({
    repo,
    loopId: 'loop-1',
    cycle: 1,
    fingerprint: 'abc123def456',
    environmentName: 'staging',
    attempt: 1,
    clusterFile,
    cycleServices: [],
    dir: join(dir, `prove-${over.attempt ?? 1}-${Math.random().toString(36).slice(2, 6)}`),
    worktree: join(dir, 'wt', Math.random().toString(36).slice(2, 8)),
    stop: async () => undefined,
    processEnv: process.env,
    sandbox: SANDBOX_OFF,
    signal: new AbortController().signal,
    log,
    ...over,
  });

  describe('on the local provider', () => {
    const local = new LocalProvider({ pathVar: process.env.PATH ?? '', homeVar: process.env.HOME ?? '/tmp' });
    const environment = env({ provider: 'local', command: ['node', 'server.js'], readyTimeout: '10s' });
    const stopped: DeployedService[] = [];
    const stop = async (d: DeployedService) => {
      stopped.push(d);
      await local.stop(d, log);
    };

    it('rejects a fix whose cluster test still fails the same way on its own deployed process, and stops it', { timeout: 30_000 }, async () => {
      const req = request({ commit: commitOnTop(repo, { 'README.md': 'answers, now documented\n' }), environment, provider: () => local, stop });
      const gate = await proveFix(req);
      expect(gate).toMatchObject({ name: 'proven-on-deploy', passed: false });
      expect(gate.reason).toMatch(/^rejected on deploy .*answers 42: GET \/answer: expected 42, got 40/);
      const record = JSON.parse(readFileSync(join(req.dir, 'prove.json'), 'utf8')) as ProofRecord;
      expect(record.verdict.tests).toEqual([{ test: 'answer › answers 42', result: 'fails-again', message: 'GET /answer: expected 42, got 40' }]);
      expect(record.services[0]?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // Its own process, stopped; its checkout removed.
      const pid = stopped.at(-1)?.pid as number;
      expect(pid).toBeGreaterThan(0);
      expect(isAlive(pid)).toBe(false);
      expect(existsSync(req.worktree)).toBe(false);
    });

    it('proves a fix whose cluster test passes against it', { timeout: 30_000 }, async () => {
      const req = request({ commit: commitOnTop(repo, { 'answer.txt': '42\n' }), environment, provider: () => local, stop });
      const gate = await proveFix(req);
      expect(gate).toMatchObject({ name: 'proven-on-deploy', passed: true });
      expect(gate.reason).toMatch(/^proven .*1 passed of 1 test/);
      expect(isAlive(stopped.at(-1)?.pid as number)).toBe(false);
    });

    it('runs a sharded suite command ({{shardFiles}}, {{shard}}) whole, as shard 1 of 1 over every suite file', { timeout: 30_000 }, async () => {
      const sharded = EnvironmentSchema.parse({
        services: [{ name: 'api', deploy: { provider: 'local', command: ['node', 'server.js'], readyTimeout: '10s' } }],
        tests: {
          command: ['node', 'suite.js', '--shard={{shard}}/{{shardCount}}', '{{shardFiles}}'],
          files: ['*.js'],
          shards: 2,
          junit: ['{{artifacts}}/junit.xml'],
          timeout: '30s',
        },
      });
      const req = request({ commit: commitOnTop(repo, { 'answer.txt': '42\n' }), environment: sharded, provider: () => local, stop });
      const gate = await proveFix(req);
      expect(gate).toMatchObject({ name: 'proven-on-deploy', passed: true });
    });

    it('rejects a candidate that does not start, with the deploy error as evidence', { timeout: 30_000 }, async () => {
      const broken = env({ provider: 'local', command: ['node', 'no-such-server.js'], readyTimeout: '3s' });
      const gate = await proveFix(request({ commit: commitOnTop(repo, { 'answer.txt': '42\n' }), environment: broken, provider: () => local, stop }));
      expect(gate.passed).toBe(false);
      expect(gate.reason).toMatch(/^the fix's candidate did not deploy: api: /);
    });
  });

  it('on the command provider proves nothing and says so', async () => {
    const environment = env({ provider: 'command', command: ['true'], url: 'http://127.0.0.1:9' });
    const provider = (): DeployProvider => {
      throw new Error('no deploy expected');
    };
    const gate = await proveFix(request({ commit: git(repo, 'rev-parse', 'main'), environment, provider }));
    expect(gate).toMatchObject({ passed: true, reason: expect.stringMatching(/^not proven: every service is deployed by command/) });
  });

  it('on Cloud Run deploys a 0%-traffic revision under its own tag, tests its tag URL, then withdraws and deletes it', { timeout: 30_000 }, async () => {
    const fake = await FakeGoogle.start();
    const cloudRun = new CloudRunProvider({ clientOptions: fake.clientOptions(), pollIntervalMs: 5, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
    try {
      const svc = fake.addService({ project: 'acme', region: 'europe-west1', service: 'backend', revision: 'backend-00001-abc' });
      const environment = env({
        provider: 'cloud-run',
        project: 'acme',
        region: 'europe-west1',
        service: 'backend',
        image: 'europe-docker.pkg.dev/acme/repo/backend:{{commit}}',
        readyTimeout: '10s',
      });
      const commit = commitOnTop(repo, { 'answer.txt': '42\n' });
      const req = request({ commit, environment, provider: () => cloudRun, attempt: 2 });
      const tag = fixCandidateTag(1, 'abc123def456', 2);
      expect(tag).toBe('gl-f1-abc123de-2');

      const gate = await proveFix(req);
      expect(gate).toMatchObject({ passed: true });
      // The suite was given the candidate's tag URL, not the service's.
      expect(readFileSync(join(req.dir, 'test', 'url.txt'), 'utf8')).toBe(`https://${tag}---backend-abc123-ew.a.run.app`);
      const record = JSON.parse(readFileSync(join(req.dir, 'prove.json'), 'utf8')) as ProofRecord;
      const revision = record.services[0]?.revision as string;
      expect(record.services[0]).toMatchObject({ provider: 'cloud-run', tag });

      // What the client library sent: the candidate at 0% under its tag beside the serving revision; then the tag removed; then the revision deleted.
      const patches = fake.requests.filter((r) => r.method === 'updateService').map((r) => (r.body as { traffic: unknown[] }).traffic);
      expect(patches).toEqual([
        [
          { type: 2, revision: 'backend-00001-abc', percent: 100 },
          { type: 2, revision, percent: 0, tag },
        ],
        [{ type: 2, revision: 'backend-00001-abc', percent: 100 }],
      ]);
      expect(fake.requests.filter((r) => r.method === 'deleteRevision').map((r) => r.path)).toEqual([
        `/v2/projects/acme/locations/europe-west1/services/backend/revisions/${revision}`,
      ]);
      // Nothing left behind: no revision, no tag; traffic stays where it was.
      expect(svc.revisions.has(revision)).toBe(false);
      expect(svc.traffic).toEqual([{ type: 2, revision: 'backend-00001-abc', percent: 100 }]);
    } finally {
      await cloudRun.close();
      await fake.close();
    }
  });
  it("on Cloud Run, the loop's end removes the candidates a worker that died mid-proof left tagged, and only this loop's", { timeout: 30_000 }, async () => {
    const fake = await FakeGoogle.start();
    const cloudRun = new CloudRunProvider({ clientOptions: fake.clientOptions(), pollIntervalMs: 5, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
    try {
      const svc = fake.addService({ project: 'acme', region: 'europe-west1', service: 'backend', revision: 'backend-00001-abc' });
      const [service] = env({
        provider: 'cloud-run',
        project: 'acme',
        region: 'europe-west1',
        service: 'backend',
        image: 'img:{{commit}}',
        readyTimeout: '10s',
      }).services;
      const deploy = (loopId: string, commit: string) =>
        cloudRun.deploy({
          loopId,
          cycle: 1,
          commit,
          service: service as NonNullable<typeof service>,
          worktree: repo,
          cycleDir: dir,
          candidateTag: fixCandidateTag(1, loopId.replace(/\W/g, ''), 1),
          signal: new AbortController().signal,
          log,
          progress: () => undefined,
        });
      // Two proofs that never got to withdraw: this loop's, and another loop's on the same service.
      const ours = await deploy('loop-1', 'a'.repeat(40));
      const theirs = await deploy('loop-2', 'b'.repeat(40));
      expect(svc.traffic.filter((t) => t.tag).map((t) => t.revision)).toEqual([ours.revision, theirs.revision]);

      expect(await cloudRun.sweepFixCandidates(service as NonNullable<typeof service>, { id: 'loop-1', cycles: 1 })).toEqual([ours.revision]);
      expect(svc.revisions.has(ours.revision)).toBe(false);
      expect(svc.revisions.has(theirs.revision)).toBe(true);
      expect(svc.traffic).toEqual([
        { type: 2, revision: 'backend-00001-abc', percent: 100 },
        { type: 2, revision: theirs.revision, percent: 0, tag: fixCandidateTag(1, 'loop2', 1) },
      ]);
      // Nothing left of this loop: a second sweep finds nothing.
      expect(await cloudRun.sweepFixCandidates(service as NonNullable<typeof service>, { id: 'loop-1', cycles: 1 })).toEqual([]);
    } finally {
      await cloudRun.close();
      await fake.close();
    }
  });
});
