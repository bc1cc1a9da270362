import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createLogger, type DeployedService, type ServiceConfig, ServiceSchema, serviceDependencies } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeSandbox } from '../process/sandbox.ts';
import { errorOf } from '../test-support/error-of.ts';
import { FakeGoogle, type FakeService } from '../test-support/fake-google.ts';
import { CloudRunProvider, classifyGoogleError, normalizeCondition, promoteCandidate, revisionName } from './cloud-run.ts';
import { deployWaves as deployOrder } from './order.ts';
import type { DeployRequest } from './types.ts';

const PROJECT = 'acme-staging';
const REGION = 'europe-west1';
const COMMIT = '3f2a9c1d0b7e4f6a8c9d0e1f2a3b4c5d6e7f8a9b';
const PREVIOUS = 'backend-00001-abc';
const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
const log = createLogger('test', 'silent');
const bwrap = await probeSandbox();

function service(deploy: Record<string, unknown> = {}): ServiceConfig {
  return ServiceSchema.parse({
    name: 'api',
    deploy: {
      provider: 'cloud-run',
      project: PROJECT,
      region: REGION,
      service: 'backend',
      image: 'europe-docker.pkg.dev/acme/repo/backend:{{commit}}',
      readyTimeout: '10s',
      ...deploy,
    },
  });
}

describe('CloudRunProvider against the fake Cloud Run API', () => {
  let fake: FakeGoogle;
  let svc: FakeService;
  let provider: CloudRunProvider;
  let dir: string;
  let progress: string[];

  const request = (over: Partial<DeployRequest> = {}): DeployRequest => ({
    loopId: 'loop-7',
    cycle: 1,
    commit: COMMIT,
    service: service(),
    worktree: dir,
    cycleDir: join(dir, 'cycle-1'),
    signal: new AbortController().signal,
    log,
    progress: (m) => progress.push(m),
    ...over,
  });
  const ours = (cycle = 1) => revisionName('backend', COMMIT, 'loop-7', cycle);
  const patches = () => fake.requests.filter((r) => r.method === 'updateService');

  beforeEach(async () => {
    fake = await FakeGoogle.start();
    svc = fake.addService({ project: PROJECT, region: REGION, service: 'backend', revision: PREVIOUS });
    provider = new CloudRunProvider({ clientOptions: fake.clientOptions(), pollIntervalMs: 5, retry: FAST_RETRY, env: { PATH: process.env.PATH ?? '' } });
    dir = mkdtempSync(join(tmpdir(), 'gl-cloud-run-'));
    progress = [];
  });

  afterEach(async () => {
    await provider.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys a new revision with a unique name and the commit image, and proves it ready', async () => {
    const deployed = await provider.deploy(request());

    expect(deployed).toMatchObject({ service: 'api', provider: 'cloud-run', url: svc.uri, revision: ours() });
    expect(deployed.details).toMatchObject({
      project: PROJECT,
      region: REGION,
      cloudRunService: 'backend',
      image: `europe-docker.pkg.dev/acme/repo/backend:${COMMIT}`,
      previousRevision: PREVIOUS,
      reusedRevision: false,
    });
    expect(String(deployed.details?.logUri)).toContain(ours());
    expect(ours()).toMatch(/^backend-3f2a9c1-[0-9a-f]{8}$/);

    // What the library really sent: the whole service back, with our revision name, image and traffic on LATEST.
    expect(patches()).toHaveLength(1);
    expect(patches()[0]?.path).toBe(`/v2/projects/${PROJECT}/locations/${REGION}/services/backend`);
    const body = patches()[0]?.body as {
      template: { revision: string; containers: { image: string; ports: unknown[] }[] };
      traffic: { type: number; percent: number }[];
      uri: string;
    };
    expect(body.uri).toBe(svc.uri);
    expect(body.template.revision).toBe(ours());
    expect(body.template.containers[0]?.image).toBe(`europe-docker.pkg.dev/acme/repo/backend:${COMMIT}`);
    expect(body.template.containers[0]?.ports).toHaveLength(1);
    expect(body.traffic).toEqual([{ type: 1, percent: 100 }]);
    expect(fake.count('getOperation')).toBeGreaterThan(0);
    expect(svc.latestReadyRevision).toBe(ours());
    expect(progress.some((m) => m.includes(`as revision ${ours()}`))).toBe(true);
  });

  it("sets deploy.env on the new revision's container with {{url.<service>}} filled, keeping the service's other variables", async () => {
    const container = svc.template.containers[0] as { env?: { name: string; value?: string; valueSource?: unknown }[] };
    container.env = [
      { name: 'DB_PASSWORD', valueSource: { secretKeyRef: { secret: 'db', version: 'latest' } } },
      { name: 'BACK_URL', value: 'https://stale.example' },
    ];
    const s = service({ env: { BACK_URL: '{{url.back}}/v1', BUILT_FROM: '{{shortCommit}}' } });
    // The placeholder alone orders the deploy after `back` (in env or in the build argv).
    expect(serviceDependencies(s)).toEqual(['back']);
    expect(serviceDependencies(service({ build: ['make', 'BACK={{url.back}}'] }))).toEqual(['back']);
    await provider.deploy(request({ service: s, urls: { back: 'https://back-xyz.a.run.app' } }));

    const body = patches()[0]?.body as { template: { containers: { env?: unknown[] }[] } };
    expect(body.template.containers[0]?.env).toEqual([
      { name: 'DB_PASSWORD', valueSource: { secretKeyRef: { secret: 'db', version: 'latest' } } },
      { name: 'BACK_URL', value: 'https://back-xyz.a.run.app/v1' },
      { name: 'BUILT_FROM', value: COMMIT.slice(0, 7) },
    ]);
  });

  it('fails with DEPLOY_NOT_READY and the evidence when the revision never becomes ready, keeping traffic on the previous revision', async () => {
    fake.scenario.revisionOutcome = 'fail';
    const err = await errorOf(provider.deploy(request()));

    expect(err.code).toBe('DEPLOY_NOT_READY');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(ours());
    expect(err.message).toContain('failed to start and listen on the port');
    expect(err.hint).toContain(`traffic stays on ${PREVIOUS}`);
    const d = err.details ?? {};
    expect(d.operationError).toMatchObject({ code: 9 });
    expect(d.revisionConditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Ready', state: 'CONDITION_FAILED' }),
        expect.objectContaining({ type: 'ContainerHealthy', state: 'CONDITION_FAILED', revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' }),
      ]),
    );
    expect(d.terminalCondition).toMatchObject({ type: 'Ready', state: 'CONDITION_FAILED' });
    expect(String(d.logUri)).toContain(`revision_name/${ours()}`);
    expect((d.messages as string[]).length).toBeGreaterThan(0);
    expect(d.previousRevision).toBe(PREVIOUS);
    expect(d.traffic).toEqual([expect.objectContaining({ revision: PREVIOUS, percent: 100 })]);
    expect(d.trafficRestoredTo).toBeUndefined();
    expect(svc.latestReadyRevision).toBe(PREVIOUS);
    expect(patches()).toHaveLength(1);
  });

  it('moves traffic back to the previous revision when a failed revision is reported serving', async () => {
    fake.scenario.revisionOutcome = 'fail';
    fake.scenario.failedRevisionServes = true;
    const err = await errorOf(provider.deploy(request()));

    expect(err.code).toBe('DEPLOY_NOT_READY');
    expect(err.details?.trafficRestoredTo).toBe(PREVIOUS);
    // Read from the restore operation's result, whose enums arrive as numbers.
    expect(err.details?.traffic).toEqual([{ type: 'REVISION', revision: PREVIOUS, percent: 100 }]);
    expect(err.hint).toContain(`traffic was moved back to ${PREVIOUS}`);
    expect(patches()).toHaveLength(2);
    const restore = patches()[1]?.body as { traffic: { type: number; revision: string; percent: number }[] };
    expect(restore.traffic).toEqual([{ type: 2, revision: PREVIOUS, percent: 100 }]);
    expect(svc.traffic).toEqual([{ type: 2, revision: PREVIOUS, percent: 100 }]);
  });

  it('treats 409 ALREADY_EXISTS for its own revision name as a concurrent attempt and waits for that revision', async () => {
    const image = `europe-docker.pkg.dev/acme/repo/backend:${COMMIT}`;
    fake.failNext('updateService', {
      status: 409,
      grpcStatus: 'ALREADY_EXISTS',
      message: `Revision named '${ours()}' with different configuration already exists.`,
      onServe: () => fake.createRevision(svc, ours(), image, 'ready'),
    });
    const deployed = await provider.deploy(request());

    expect(deployed.revision).toBe(ours());
    expect(patches()).toHaveLength(1);
    expect(svc.revisions.size).toBe(2);
  });

  it('reports DEPLOY_SUPERSEDED when its revision exists but the service has moved on', async () => {
    const image = `europe-docker.pkg.dev/acme/repo/backend:${COMMIT}`;
    fake.failNext('updateService', {
      status: 409,
      grpcStatus: 'ALREADY_EXISTS',
      onServe: () => {
        fake.createRevision(svc, ours(), image, 'ready');
        fake.createRevision(svc, 'backend-manual-1', 'europe-docker.pkg.dev/acme/repo/backend:hotfix', 'ready');
      },
    });
    const err = await errorOf(provider.deploy(request()));
    expect(err.code).toBe('DEPLOY_SUPERSEDED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('backend-manual-1');
  });

  it('maps 403 to a non-retryable permission error naming the IAM role', async () => {
    fake.failNext('getService', {
      status: 403,
      message: "Permission 'run.services.get' denied on resource 'projects/acme-staging/locations/europe-west1/services/backend'",
    });
    const err = await errorOf(provider.deploy(request()));
    expect(err.code).toBe('CLOUD_RUN_PERMISSION_DENIED');
    expect(err.retryable).toBe(false);
    expect(err.hint).toContain('roles/run.developer');
    expect(err.details).toMatchObject({ grpcCode: 7, httpStatus: 403, service: 'backend', project: PROJECT, region: REGION });
    expect(fake.count('getService')).toBe(1);
  });

  it('names roles/iam.serviceAccountUser when the deploy cannot act as the runtime service account', async () => {
    fake.failNext('updateService', {
      status: 403,
      message: "Permission 'iam.serviceaccounts.actAs' denied on service account backend@acme-staging.iam.gserviceaccount.com (or it may not exist).",
    });
    const err = await errorOf(provider.deploy(request()));
    expect(err.code).toBe('CLOUD_RUN_PERMISSION_DENIED');
    expect(err.hint).toContain('roles/iam.serviceAccountUser');
  });

  it('retries 429 and 503 with backoff, then succeeds', async () => {
    fake.failNext('getService', {
      status: 429,
      message: 'Quota exceeded for quota metric Read requests',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '0.010s' }],
    });
    fake.failNext('getOperation', { status: 503, message: 'The service is currently unavailable.' });
    const deployed = await provider.deploy(request());
    expect(deployed.revision).toBe(ours());
    expect(patches()).toHaveLength(1);
    expect(fake.requests.filter((r) => r.method === 'getService').length).toBeGreaterThanOrEqual(2);
  });

  it('gives up on a persistent 429 with a retryable error so the queue backs off', async () => {
    fake.failNext('getService', { status: 429, times: 5 });
    const err = await errorOf(provider.deploy(request()));
    expect(err.code).toBe('CLOUD_RUN_RATE_LIMITED');
    expect(err.retryable).toBe(true);
    expect(fake.count('getService')).toBe(FAST_RETRY.attempts);
  });

  it('says which service, project and region were not found', async () => {
    const err = await errorOf(provider.deploy(request({ service: service({ service: 'missing' }) })));
    expect(err.code).toBe('CLOUD_RUN_NOT_FOUND');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('service "missing" in project "acme-staging", region "europe-west1"');
  });

  it('says which field was invalid (BadRequest field violations)', async () => {
    fake.failNext('updateService', {
      status: 400,
      message: 'Image not found',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [{ field: 'spec.template.spec.containers[0].image', description: 'Image not found' }],
        },
      ],
    });
    const err = await errorOf(provider.deploy(request()));
    expect(err.code).toBe('CLOUD_RUN_INVALID_ARGUMENT');
    expect(err.message).toContain('spec.template.spec.containers[0].image');
    expect(err.hint).toContain('deploy.image');
  });

  it('runs the build command in the worktree with placeholders, keeping its output under the cycle directory', async () => {
    const script = "require('fs').writeFileSync('built.txt', process.argv.slice(1).join('\\n'))";
    const deployed = await provider.deploy(
      request({ service: service({ build: [process.execPath, '-e', script, '{{image}}', '{{shortCommit}}', '{{artifacts}}'] }) }),
    );
    expect(deployed.revision).toBe(ours());
    expect(readFileSync(join(dir, 'built.txt'), 'utf8').split('\n')).toEqual([
      `europe-docker.pkg.dev/acme/repo/backend:${COMMIT}`,
      COMMIT.slice(0, 7),
      join(dir, 'cycle-1'),
    ]);
    expect(existsSync(join(dir, 'cycle-1', 'deploy', 'api', 'build.stdout.log'))).toBe(true);
  });

  it.skipIf(!bwrap.available)('runs the build command in the sandbox and records it: the checkout writable, a hidden place not', async () => {
    const hidden = mkdtempSync(join(tmpdir(), 'greenloop-hidden-'));
    writeFileSync(join(hidden, 'secret'), 's3cret');
    const script = `const fs = require('fs'); fs.writeFileSync('built.txt', String(fs.existsSync(${JSON.stringify(join(hidden, 'secret'))})))`;
    const deployed = await provider.deploy(request({ service: service({ build: [process.execPath, '-e', script] }), sandbox: { mode: 'on', hide: [hidden] } }));
    rmSync(hidden, { recursive: true, force: true });
    expect(deployed.sandboxed).toBe(true);
    expect(readFileSync(join(dir, 'built.txt'), 'utf8')).toBe('false');
  });

  it('fails with DEPLOY_BUILD_FAILED, the exit code and the last output when the build fails, without deploying', async () => {
    const script = "console.log('compiling'); console.error('error TS2304: cannot find name foo'); process.exit(3)";
    const err = await errorOf(provider.deploy(request({ service: service({ build: [process.execPath, '-e', script] }) })));
    expect(err.code).toBe('DEPLOY_BUILD_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('exited with 3');
    expect(err.message).toContain('cannot find name foo');
    expect(err.details).toMatchObject({ exitCode: 3 });
    expect(readFileSync(join(dir, 'cycle-1', 'deploy', 'api', 'build.stderr.log'), 'utf8')).toContain('TS2304');
    expect(patches()).toHaveLength(0);
  });

  it('is idempotent: a retried deploy of the same loop, cycle and commit waits for its revision instead of creating another', async () => {
    fake.scenario.rolloutPolls = 6;
    const ac = new AbortController();
    // The first attempt "crashes" right after the PATCH was accepted.
    const first = await errorOf(provider.deploy(request({ signal: ac.signal, progress: (m) => m.startsWith('waiting for Cloud Run') && ac.abort() })));
    expect(first.code).toBe('DEPLOY_CANCELLED');
    expect(patches()).toHaveLength(1);

    const again = await provider.deploy(request());
    expect(again.revision).toBe(ours());
    expect(again.details?.reusedRevision).toBe(true);
    expect(patches()).toHaveLength(1);
    expect(svc.revisions.size).toBe(2);

    // And once more after success: still no new patch or revision.
    const third = await provider.deploy(request());
    expect(third.revision).toBe(ours());
    expect(patches()).toHaveLength(1);

    // The next cycle is a new revision.
    const next = await provider.deploy(request({ cycle: 2 }));
    expect(next.revision).toBe(ours(2));
    expect(patches()).toHaveLength(2);
  });

  it('deploys a candidate with 0% traffic under a tag, returns the tag URL, and promotes it', async () => {
    const deployed = await provider.deploy(request({ service: service({ candidate: true }) }));

    expect(deployed.url).toBe('https://gl-c1---backend-abc123-ew.a.run.app');
    expect(deployed.details).toMatchObject({ tag: 'gl-c1', candidate: true, serviceUrl: svc.uri });
    const body = patches()[0]?.body as { traffic: unknown[] };
    // The current split is pinned to the previous revision, otherwise LATEST would hand the candidate all traffic.
    expect(body.traffic).toEqual([
      { type: 2, revision: PREVIOUS, percent: 100 },
      { type: 2, revision: ours(), percent: 0, tag: 'gl-c1' },
    ]);
    expect(svc.latestReadyRevision).toBe(ours());

    const promoted = await promoteCandidate(deployed, { clientOptions: fake.clientOptions(), pollIntervalMs: 5, retry: FAST_RETRY });
    expect(promoted.url).toBe(svc.uri);
    expect(promoted.details?.promoted).toBe(true);
    expect(svc.traffic).toEqual([{ type: 2, revision: ours(), percent: 100, tag: 'gl-c1' }]);
    expect(patches()).toHaveLength(2);
  });

  it('refuses to promote something that is not a cloud-run candidate', async () => {
    const local: DeployedService = { service: 'api', provider: 'local', url: 'http://127.0.0.1:1', revision: 'local-1', readyAt: '' };
    await expect(promoteCandidate(local, { clientOptions: fake.clientOptions() })).rejects.toMatchObject({ code: 'PROMOTE_NOT_CANDIDATE' });
  });
});

describe('normalizeCondition', () => {
  it('gives the same result for enum names (unary calls) and numbers (operation results)', () => {
    const byName = normalizeCondition({
      type: 'Ready',
      state: 'CONDITION_FAILED',
      revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR',
      severity: 'ERROR',
      message: 'm',
    });
    const byNumber = normalizeCondition({ type: 'Ready', state: 3, revisionReason: 6, severity: 1, reason: 0, message: 'm' });
    expect(byNumber).toEqual(byName);
    expect(byName).toEqual({ type: 'Ready', state: 'CONDITION_FAILED', revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR', severity: 'ERROR', message: 'm' });
  });
});

describe('revisionName', () => {
  it('is deterministic per loop, cycle and commit, lowercase and at most 63 characters', () => {
    const a = revisionName('backend', COMMIT, 'loop-1', 3);
    expect(revisionName('backend', COMMIT, 'loop-1', 3)).toBe(a);
    expect(revisionName('backend', COMMIT, 'loop-1', 4)).not.toBe(a);
    expect(revisionName('backend', COMMIT, 'loop-2', 3)).not.toBe(a);
    expect(a).toMatch(/^backend-3f2a9c1-[0-9a-f]{8}$/);
    const long = revisionName('a'.repeat(49), COMMIT.toUpperCase(), 'loop-1', 3);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^a{49}-[0-9a-f]+-[0-9a-f]+$/);
  });
});

describe('classifyGoogleError', () => {
  const ctx = { api: 'Cloud Run' as const, action: 'get service', project: 'p', region: 'r', service: 's' };

  it('handles gRPC codes and REST statuses alike', () => {
    expect(classifyGoogleError({ code: 8, message: 'quota' }, ctx)).toMatchObject({ code: 'CLOUD_RUN_RATE_LIMITED', retryable: true });
    expect(classifyGoogleError({ code: 429, message: 'too many' }, ctx)).toMatchObject({ code: 'CLOUD_RUN_RATE_LIMITED', retryable: true });
    expect(classifyGoogleError({ code: 14 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_UNAVAILABLE', retryable: true });
    expect(classifyGoogleError({ status: 503 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_UNAVAILABLE', retryable: true });
    expect(classifyGoogleError({ code: 'ECONNRESET' }, ctx)).toMatchObject({ code: 'CLOUD_RUN_UNAVAILABLE', retryable: true });
    expect(classifyGoogleError({ code: 7 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_PERMISSION_DENIED', retryable: false });
    expect(classifyGoogleError({ code: 403 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_PERMISSION_DENIED', retryable: false });
    expect(classifyGoogleError({ code: 5 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_NOT_FOUND', retryable: false });
    expect(classifyGoogleError({ code: 404 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_NOT_FOUND', retryable: false });
    expect(classifyGoogleError({ code: 3 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_INVALID_ARGUMENT', retryable: false });
    expect(classifyGoogleError({ code: 400 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_INVALID_ARGUMENT', retryable: false });
    expect(classifyGoogleError({ code: 6 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_ALREADY_EXISTS', retryable: false });
    expect(classifyGoogleError({ code: 10 }, ctx)).toMatchObject({ code: 'CLOUD_RUN_ABORTED', retryable: true });
    expect(classifyGoogleError({ code: 16 }, ctx).hint).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect(classifyGoogleError({ code: 7 }, { ...ctx, api: 'Cloud Logging' }).hint).toContain('roles/logging.viewer');
  });

  it('uses the server-provided retry delay', () => {
    const err = classifyGoogleError({ code: 8, statusDetails: [{ retryDelay: { seconds: 2, nanos: 500_000_000 } }] }, ctx);
    expect(err.details?.retryAfterMs).toBe(2500);
  });
});

describe('deployOrder', () => {
  const svcs = (specs: Record<string, string[]>): ServiceConfig[] =>
    Object.entries(specs).map(([name, after]) =>
      ServiceSchema.parse({ name, deploy: { provider: 'cloud-run', project: 'p', region: 'r', service: name, image: 'i', after } }),
    );

  it('groups services into parallel waves honouring after', () => {
    const waves = deployOrder([
      ...svcs({ frontend: ['backend'], backend: [], worker: ['backend'], edge: ['frontend'] }),
      ServiceSchema.parse({ name: 'local', deploy: { provider: 'local', command: ['x'] } }),
    ]);
    expect(waves.map((w) => w.map((s) => s.name))).toEqual([['backend', 'local'], ['frontend', 'worker'], ['edge']]);
  });

  it('rejects unknown names and cycles as config errors', () => {
    expect(() => deployOrder(svcs({ frontend: ['backnd'] }))).toThrow(ConfigError);
    expect(() => deployOrder(svcs({ frontend: ['backnd'] }))).toThrow(/unknown service "backnd"/);
    expect(() => deployOrder(svcs({ a: ['b'], b: ['a'], c: [] }))).toThrow(/cycle/);
  });
});
