import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GreenloopError } from './errors.ts';
import { startLoop } from './loops.ts';
import { LOOP_ENVIRONMENT_PATTERN, PROJECTS_CAPABILITY, ProjectStore, projectSource, remoteProblem, splitEnvironmentName } from './projects.ts';
import { closeQueues, createQueues, type Queues } from './queues.ts';
import { testRedis } from './testing.ts';
import { registerWorker } from './worker-registry.ts';

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<GreenloopError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof GreenloopError)) throw new Error(`expected a GreenloopError, got ${String(err)}`);
  return err;
}

describe('remote URLs', () => {
  it.each([
    'https://github.com/acme/shop.git',
    'ssh://git@github.com/acme/shop.git',
    'ssh://git@git.example.com:2222/acme/shop.git',
    'git@github.com:acme/shop.git',
    'file:///srv/git/shop.git',
    '/srv/git/shop.git',
  ])('accepts %s', (remote) => {
    expect(remoteProblem(remote)).toBeUndefined();
  });

  it.each([
    ['https://user:pass@github.com/acme/shop.git', /credentialsSecret/],
    ['https://ghp_token@github.com/acme/shop.git', /credentialsSecret/],
    ['ssh://git:secret@github.com/acme/shop.git', /credentialsSecret/],
    ['git:secret@github.com:acme/shop.git', /credentialsSecret/],
    ['https://github.com/acme/shop.git?access_token=x', /query string/],
    ['http://github.com/acme/shop.git', /https/],
    ['ext::sh -c touch% /tmp/pwned', /whitespace/],
    ['ext::ssh', /transport is not accepted/],
    ['-oProxyCommand=x@host:path', /user of user@host:path/],
    ['ssh://-oProxyCommand=x/path', /host|https:\/\//],
    ['shop.git', /absolute path/],
    ['./shop.git', /absolute path/],
    ['/srv/../etc/shop.git', /\.\./],
    ['file://otherhost/srv/shop.git', /absolute path on this machine/],
    ['https://github.com', /repository path/],
  ])('refuses %s', (remote, message) => {
    expect(remoteProblem(remote)).toMatch(message);
  });
});

describe('environment names', () => {
  it('splits <project>/<environment>; a short name has no project', () => {
    expect(splitEnvironmentName('shop/staging')).toEqual({ project: 'shop', environment: 'staging' });
    expect(splitEnvironmentName('staging')).toEqual({ environment: 'staging' });
  });

  it('the API pattern takes short and project names, nothing else', () => {
    for (const ok of ['staging', 'shop/staging', '9lives/prod-eu', 'a/b']) expect(LOOP_ENVIRONMENT_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['shop/', '/staging', 'shop/staging/x', 'Shop/staging', 'shop/9x', '-shop/staging', 'shop//staging'])
      expect(LOOP_ENVIRONMENT_PATTERN.test(bad), bad).toBe(false);
  });
});

describe('ProjectStore (real Redis)', () => {
  let t: ReturnType<typeof testRedis>;
  let projects: ProjectStore;
  let queues: Queues;
  beforeEach(() => {
    t = testRedis();
    projects = new ProjectStore(t.store);
    queues = createQueues(t.redis, t.prefix);
  });
  afterEach(async () => {
    await closeQueues(queues);
    await t.cleanup();
  });

  it('creates with base branch main by default, gets, lists by name; a second create of a name conflicts', async () => {
    const shop = await projects.create({ name: 'shop', remote: 'git@github.com:acme/shop.git', credentialsSecret: 'SHOP_DEPLOY_KEY' }, 'alice');
    expect(shop).toMatchObject({ name: 'shop', baseBranch: 'main', credentialsSecret: 'SHOP_DEPLOY_KEY', createdBy: 'alice' });
    expect(shop.createdAt).toBe(shop.updatedAt);
    await projects.create({ name: 'billing', remote: '/srv/git/billing.git', baseBranch: 'develop' }, 'bob');
    expect(await projects.get('shop')).toEqual(shop);
    expect(await projects.get('nope')).toBeUndefined();
    expect((await projects.list()).map((p) => p.name)).toEqual(['billing', 'shop']);
    const again = await rejection(projects.create({ name: 'shop', remote: '/srv/git/other.git' }, 'carol'));
    expect(again.code).toBe('PROJECT_EXISTS');
    expect((await projects.get('shop'))?.remote).toBe('git@github.com:acme/shop.git');
  });

  it('of simultaneous creates of one name exactly one wins', async () => {
    const outs = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => projects.create({ name: 'shop', remote: `/srv/git/shop-${i}.git` }, `admin-${i}`)),
    );
    expect(outs.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect((await projects.list()).length).toBe(1);
  });

  it('refuses invalid fields, each error naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: 'Shop', remote: '/srv/x.git' }, /^invalid project: name: must be lowercase/],
      [{ name: 'greenloop', remote: '/srv/x.git' }, /name: "greenloop" is reserved/],
      [{ name: 'shop', remote: 'https://u:p@github.com/a/b.git' }, /remote: must not carry credentials/],
      [{ name: 'shop', remote: '/srv/x.git', baseBranch: '--upload-pack=x' }, /baseBranch: must be a branch name/],
      [{ name: 'shop', remote: '/srv/x.git', baseBranch: 'release/..' }, /baseBranch: .* is not a valid git branch name/],
      [{ name: 'shop', remote: '/srv/x.git', credentialsSecret: 'ghp_abc123' }, /credentialsSecret: must be the name of an environment variable/],
      [{ name: 'shop', remote: '/srv/x.git', credentialsSecret: 'GREENLOOP_API_TOKEN' }, /credentialsSecret: must not be one of greenloop's own/],
      [{ name: 'shop', remote: '/srv/x.git', credentialsSecret: 'REDIS_URL' }, /credentialsSecret: must not be one of greenloop's own/],
      [{ name: 'shop', remote: '/srv/x.git', command: ['sh'] }, /Unrecognized key.*command/],
    ];
    for (const [input, message] of cases) {
      const err = await rejection(projects.create(input as never, 'alice'));
      expect(err.code, JSON.stringify(input)).toBe('PROJECT_INVALID');
      expect(err.message, JSON.stringify(input)).toMatch(message);
    }
    expect(await projects.list()).toEqual([]);
  });

  it('updates only the fields given; null removes the credentials secret; the name cannot change', async () => {
    const created = await projects.create({ name: 'shop', remote: '/srv/git/shop.git', credentialsSecret: 'SHOP_KEY' }, 'alice');
    await new Promise((r) => setTimeout(r, 5));
    const moved = await projects.update('shop', { remote: 'https://github.com/acme/shop.git' });
    expect(moved).toMatchObject({
      remote: 'https://github.com/acme/shop.git',
      baseBranch: 'main',
      credentialsSecret: 'SHOP_KEY',
      createdAt: created.createdAt,
    });
    expect(Date.parse(moved?.updatedAt ?? '')).toBeGreaterThan(Date.parse(created.updatedAt));
    const cleared = await projects.update('shop', { credentialsSecret: null, baseBranch: 'trunk' });
    expect(cleared).not.toHaveProperty('credentialsSecret');
    expect(cleared?.baseBranch).toBe('trunk');
    expect(await projects.get('shop')).toEqual(cleared);
    expect((await rejection(projects.update('shop', { name: 'other' } as never))).message).toMatch(/Unrecognized key.*name/);
    expect((await rejection(projects.update('shop', { remote: 'http://x/y' }))).message).toMatch(/^invalid project: remote: plain http/);
    expect(await projects.update('nope', { baseBranch: 'x' })).toBeUndefined();
  });

  it('concurrent updates of different fields both land', async () => {
    await projects.create({ name: 'shop', remote: '/srv/git/shop.git' }, 'alice');
    await Promise.all([projects.update('shop', { baseBranch: 'trunk' }), projects.update('shop', { credentialsSecret: 'SHOP_KEY' })]);
    expect(await projects.get('shop')).toMatchObject({ baseBranch: 'trunk', credentialsSecret: 'SHOP_KEY' });
  });

  it("refuses to delete a project while one of its loops is queued, naming the loop; other projects' loops do not count", async () => {
    const shop = await projects.create({ name: 'shop', remote: '/srv/git/shop.git' }, 'alice');
    await projects.create({ name: 'shopfront', remote: '/srv/git/shopfront.git' }, 'alice');
    const actor = { kind: 'cli', name: 't' } as const;
    const started = await startLoop({ store: t.store, queues }, { environment: 'shop/staging', actor, source: projectSource(shop) });
    if (started.kind !== 'created') throw new Error('loop not created');
    // A loop of "shopfront" and a short-named one must not block "shop" (or be named by it).
    await startLoop({ store: t.store, queues }, { environment: 'shopfront/staging', actor });
    await startLoop({ store: t.store, queues }, { environment: 'staging', actor });

    const busy = await rejection(projects.delete('shop'));
    expect(busy.code).toBe('PROJECT_BUSY');
    expect(busy.message).toBe(`project "shop" has 1 active loop(s): ${started.loop.id} (shop/staging, queued); cancel them or wait for them to finish`);
    expect(await projects.get('shop')).toBeDefined();

    // Once the loop has ended and released its environment the project can go.
    await t.store.saveLoop({ ...started.loop, state: 'green' });
    await t.store.releaseEnvironment('shop/staging', started.loop.id);
    expect((await projects.delete('shop'))?.name).toBe('shop');
    expect(await projects.get('shop')).toBeUndefined();
    expect((await projects.list()).map((p) => p.name)).toEqual(['shopfront']);
    expect(await projects.delete('shop')).toBeUndefined();
  });

  it('a loop that has ended but still holds its claim (teardown) does not block a delete', async () => {
    const shop = await projects.create({ name: 'shop', remote: '/srv/git/shop.git' }, 'alice');
    const started = await startLoop(
      { store: t.store, queues },
      { environment: 'shop/staging', actor: { kind: 'cli', name: 't' }, source: projectSource(shop) },
    );
    if (started.kind !== 'created') throw new Error('loop not created');
    await t.store.saveLoop({ ...started.loop, state: 'stopped', teardown: 'pending' });
    expect(await projects.delete('shop')).toBeDefined();
  });

  it('loopSource: nothing for a short name, the project copy for <project>/<env>, 404-style error for an unknown project', async () => {
    const shop = await projects.create({ name: 'shop', remote: 'git@github.com:acme/shop.git', baseBranch: 'trunk', credentialsSecret: 'SHOP_KEY' }, 'a');
    expect(await projects.loopSource('staging')).toBeUndefined();
    expect(await projects.loopSource('shop/staging')).toEqual({
      project: 'shop',
      remote: 'git@github.com:acme/shop.git',
      baseBranch: 'trunk',
      credentialsSecret: 'SHOP_KEY',
    });
    expect(projectSource(shop)).toEqual(await projects.loopSource('shop/prod'));
    const unknown = await rejection(projects.loopSource('billing/staging'));
    expect(unknown.code).toBe('PROJECT_NOT_FOUND');
    expect(unknown.message).toContain('unknown project "billing"');
  });

  it('loopSource refuses while a live worker lacks the projects capability (rolling upgrade), and passes once it is gone', async () => {
    await projects.create({ name: 'shop', remote: '/srv/git/shop.git' }, 'a');
    const current = registerWorker(t.redis, t.prefix, { id: 'w-new', capacity: {}, artifacts: 'local:/x', capabilities: [PROJECTS_CAPABILITY] });
    const old = registerWorker(t.redis, t.prefix, { id: 'w-old', version: '0.0.9', capacity: {}, artifacts: 'local:/x' });
    await Promise.all([current.beat(), old.beat()]);
    // An entry as an older greenloop wrote it: no capabilities field at all.
    await t.redis.set(
      `${t.prefix}:worker:w-older`,
      JSON.stringify({
        id: 'w-older',
        host: 'h',
        pid: 1,
        version: '0.0.8',
        startedAt: '2026-01-01T00:00:00Z',
        lastSeen: '',
        capacity: {},
        jobs: [],
        artifacts: '',
      }),
    );
    await t.redis.zadd(`${t.prefix}:workers`, Date.now(), 'w-older');
    const err = await rejection(projects.loopSource('shop/staging'));
    expect(err.code).toBe('WORKERS_OUTDATED');
    expect(err.message).toMatch(/^2 worker\(s\) run an older greenloop without project support; upgrade them first/);
    expect(err.details?.workers).toEqual([
      expect.objectContaining({ id: 'w-older', version: '0.0.8' }),
      expect.objectContaining({ id: 'w-old', version: '0.0.9' }),
    ]);
    // Short names never need the capability.
    expect(await projects.loopSource('staging')).toBeUndefined();
    await old.stop();
    await t.redis.del(`${t.prefix}:worker:w-older`);
    expect((await projects.loopSource('shop/staging'))?.project).toBe('shop');
    await current.stop();
  });
});
