import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type ServiceConfig, ServiceSchema } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf } from '../test-support/error-of.ts';
import { FakeGoogle, type FakeService } from '../test-support/fake-google.ts';
import { CommandProvider } from './command.ts';
import type { DeployRequest } from './types.ts';

const PROJECT = 'acme-staging';
const REGION = 'europe-west1';
const COMMIT = '9c1d0b7e4f6a8c9d0e1f2a3b4c5d6e7f8a9b3f2a';
const log = createLogger('test', 'silent');

/**
 * A stand-in for `gcloud run deploy`: records its argv, then PATCHes the service on the fake with a new
 * image, as a team's deploy script would through the Cloud Run API.
 */
const DEPLOY_SCRIPT = `
const [artifacts, commit, short, service, url] = process.argv.slice(1);
require('fs').writeFileSync(require('path').join(artifacts, 'argv.json'), JSON.stringify({ commit, short, service, mode: process.env.DEPLOY_MODE }));
console.log('Deploying container to Cloud Run service [backend]');
fetch(url, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({
  template: { containers: [{ image: 'europe-docker.pkg.dev/acme/repo/backend:' + short, ports: [{ containerPort: 8080 }] }] },
  traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }],
}) }).then((r) => { if (!r.ok) process.exit(2); console.log('Done.'); });
`;

describe('CommandProvider', () => {
  let fake: FakeGoogle;
  let svc: FakeService;
  let provider: CommandProvider;
  let dir: string;

  const service = (deploy: Record<string, unknown>): ServiceConfig => ServiceSchema.parse({ name: 'api', deploy: { provider: 'command', ...deploy } });
  const request = (s: ServiceConfig, over: Partial<DeployRequest> = {}): DeployRequest => ({
    loopId: 'loop-1',
    cycle: 1,
    commit: COMMIT,
    service: s,
    worktree: dir,
    cycleDir: dir,
    signal: new AbortController().signal,
    log,
    progress: () => {},
    ...over,
  });
  const serviceUrl = () => `http://127.0.0.1:${fake.port}/v2/projects/${PROJECT}/locations/${REGION}/services/backend`;
  const deployArgv = () => [process.execPath, '-e', DEPLOY_SCRIPT, '{{artifacts}}', '{{commit}}', '{{shortCommit}}', '{{service}}', serviceUrl()];

  beforeEach(async () => {
    fake = await FakeGoogle.start();
    svc = fake.addService({ project: PROJECT, region: REGION, service: 'backend', revision: 'backend-00001-abc' });
    provider = new CommandProvider({
      clientOptions: fake.clientOptions(),
      pollIntervalMs: 5,
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
      readyTimeoutMs: 10_000,
    });
    dir = mkdtempSync(join(tmpdir(), 'gl-command-'));
  });

  afterEach(async () => {
    await provider.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the deploy command with placeholders and proves the new Cloud Run revision ready', async () => {
    fake.scenario.rolloutPolls = 3;
    const s = service({ command: deployArgv(), env: { DEPLOY_MODE: 'staging' }, cloudRun: { project: PROJECT, region: REGION, service: 'backend' } });
    const deployed = await provider.deploy(request(s));

    expect(JSON.parse(readFileSync(join(dir, 'argv.json'), 'utf8'))).toEqual({ commit: COMMIT, short: COMMIT.slice(0, 7), service: 'api', mode: 'staging' });
    expect(deployed).toMatchObject({ service: 'api', provider: 'command', url: svc.uri, revision: 'backend-00002-gen' });
    expect(deployed.details).toMatchObject({ cloudRunService: 'backend', previousRevision: 'backend-00001-abc', newRevision: true });
    expect(svc.latestReadyRevision).toBe('backend-00002-gen');
    expect(readFileSync(join(dir, 'deploy', 'api', 'deploy.stdout.log'), 'utf8')).toContain('Deploying container');
    // The readiness check read the service until the rollout finished.
    expect(fake.count('getService')).toBeGreaterThanOrEqual(3);
  });

  it('fails with DEPLOY_NOT_READY when the revision the command created never becomes ready', async () => {
    fake.scenario.revisionOutcome = 'fail';
    const s = service({ command: deployArgv(), cloudRun: { project: PROJECT, region: REGION, service: 'backend' } });
    const err = await errorOf(provider.deploy(request(s)));
    expect(err.code).toBe('DEPLOY_NOT_READY');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ revision: 'backend-00002-gen', previousRevision: 'backend-00001-abc' });
    expect(err.details?.revisionConditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Ready', state: 'CONDITION_FAILED' })]));
  });

  it('fails with DEPLOY_COMMAND_FAILED, the exit code and the last lines of output on a non-zero exit', async () => {
    const script = "for (let i = 0; i < 40; i++) console.log('line ' + i); console.error('ERROR: (gcloud.run.deploy) PERMISSION_DENIED'); process.exit(7)";
    const s = service({ command: [process.execPath, '-e', script], url: 'https://api.example.test' });
    const err = await errorOf(provider.deploy(request(s)));
    expect(err.code).toBe('DEPLOY_COMMAND_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('exited with 7');
    expect(err.message).toContain('PERMISSION_DENIED');
    expect(err.message).toContain('line 39');
    expect(err.message).not.toContain('line 5\n');
    expect(err.details).toMatchObject({ exitCode: 7 });
  });

  it('stops a command that runs past its timeout', async () => {
    const s = service({ command: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], timeout: 200, url: 'https://api.example.test' });
    const err = await errorOf(provider.deploy(request(s)));
    expect(err.code).toBe('DEPLOY_COMMAND_TIMEOUT');
    expect(err.retryable).toBe(false);
  });

  it('uses deploy.url when there is no Cloud Run service to check', async () => {
    const s = service({ command: [process.execPath, '-e', "console.log('deployed')"], url: 'https://api.example.test' });
    const deployed = await provider.deploy(request(s));
    expect(deployed).toMatchObject({ provider: 'command', url: 'https://api.example.test', revision: `command-${COMMIT.slice(0, 7)}` });
    expect(fake.requests).toHaveLength(0);
  });

  it('fills {{url.<service>}} with the URLs of the services deployed before it, in its command and its env', async () => {
    const script = "require('fs').writeFileSync(process.argv[1], JSON.stringify({ arg: process.argv[2], env: process.env.BACK_URL }))";
    const out = join(dir, 'seen.json');
    const s = service({
      command: [process.execPath, '-e', script, out, '--backend={{url.back}}'],
      env: { BACK_URL: '{{ url.back }}/api' },
      url: 'https://front.example.test',
    });
    await provider.deploy(request(s, { urls: { back: 'http://127.0.0.1:4010' } }));
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ arg: '--backend=http://127.0.0.1:4010', env: 'http://127.0.0.1:4010/api' });
  });

  it('refuses a command service with neither url nor cloudRun', async () => {
    const s = service({ command: [process.execPath, '-e', ''] });
    await expect(provider.deploy(request(s))).rejects.toMatchObject({ code: 'DEPLOY_URL_MISSING', retryable: false });
  });
});
