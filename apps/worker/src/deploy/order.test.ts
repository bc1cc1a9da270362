import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createLogger, type DeployedService, type ServiceConfig, ServiceSchema } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../process/run-command.ts';
import { stopServices } from '../stages/deploy.ts';
import { LocalProvider } from './local.ts';
import { deployInOrder, deployWaves } from './order.ts';

const log = createLogger('test', 'silent');
const COMMIT = '9c1d0b7e4f6a8c9d0e1f2a3b4c5d6e7f8a9b3f2a';

// back answers /data; front is healthy only once it can reach back through BACK_URL, so it proves both
// the order and that {{url.back}} reached front's environment.
const BACK = `require('http').createServer((q, s) => { s.end(q.url === '/data' ? 'back-ok' : 'ok'); }).listen(process.env.PORT, '127.0.0.1');`;
const FRONT = `require('http').createServer(async (q, s) => {
  try { const r = await fetch(process.env.BACK_URL + '/data'); s.statusCode = r.ok ? 200 : 503; s.end(await r.text()); }
  catch (e) { s.statusCode = 503; s.end(String(e)); }
}).listen(process.env.PORT, '127.0.0.1');`;
const EXIT = 'console.error("cannot open database"); process.exit(3);';

const local = (name: string, script: string, extra: Record<string, unknown> = {}, env: Record<string, string> = {}): ServiceConfig =>
  ServiceSchema.parse({
    name,
    healthPath: '/healthz',
    ...extra,
    deploy: { provider: 'local', command: [process.execPath, '-e', script], env, readyTimeout: 10_000 },
  });

describe('multi-service deploy (real child processes)', () => {
  let dir: string;
  const provider = new LocalProvider({ pathVar: process.env.PATH ?? '/usr/bin:/bin', homeVar: tmpdir() });
  const running: DeployedService[] = [];
  const stopper = { stopDeployed: (d: DeployedService) => provider.stop(d, log) };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gl-order-'));
    mkdirSync(join(dir, 'deploy'));
  });
  afterEach(async () => {
    await stopServices(stopper, running.splice(0));
    rmSync(dir, { recursive: true, force: true });
  });

  const deployAll = (services: ServiceConfig[], started: string[] = []) =>
    deployInOrder<DeployedService>(services, async (service, ready) => {
      started.push(service.name);
      const d = await provider.deploy({
        loopId: 'l',
        cycle: 1,
        commit: COMMIT,
        service,
        worktree: dir,
        cycleDir: dir,
        urls: Object.fromEntries([...ready].map(([n, r]) => [n, r.url])),
        signal: new AbortController().signal,
        log,
        progress: () => {},
      });
      running.push(d);
      return d;
    });

  it('starts a local service after the one it names in `after`, with {{url.<service>}} in its env, and stops them in reverse', async () => {
    // front is listed first: only `after` puts back first.
    const out = await deployAll([local('front', FRONT, { after: ['back'] }, { BACK_URL: '{{url.back}}' }), local('back', BACK)]);
    expect(out.failure).toBeUndefined();
    expect(out.deployed.map((d) => d.service.name)).toEqual(['back', 'front']);
    const [back, front] = out.deployed.map((d) => d.value) as [DeployedService, DeployedService];
    expect(await (await fetch(`${front.url}/anything`)).text()).toBe('back-ok');

    const order: string[] = [];
    await stopServices(
      {
        stopDeployed: async (d) => {
          order.push(`${d.service}:${isAlive(d.pid as number) ? 'up' : 'down'}`);
          await provider.stop(d, log);
        },
      },
      out.deployed.map((d) => d.value),
    );
    // front was stopped while back was still up (dependants first), then back.
    expect(order).toEqual(['front:up', 'back:up']);
    expect(isAlive(back.pid as number)).toBe(false);
    running.splice(0);
  });

  it('a url placeholder alone orders the deploy', async () => {
    const out = await deployAll([local('front', FRONT, {}, { BACK_URL: '{{url.back}}' }), local('back', BACK)]);
    expect(out.deployed.map((d) => d.service.name)).toEqual(['back', 'front']);
  });

  it('a dependency that fails to start stops the deploy before its dependants start', async () => {
    const started: string[] = [];
    const out = await deployAll([local('front', FRONT, { after: ['back'] }, { BACK_URL: '{{url.back}}' }), local('back', EXIT)], started);
    expect(started).toEqual(['back']);
    expect(out.failure?.service.name).toBe('back');
    expect(String(out.failure?.error)).toMatch(/exited \(exit code 3\)/);
    expect(out.notStarted).toEqual([{ service: 'front', reason: 'its dependency back failed to start' }]);
    expect(existsSync(join(dir, 'deploy', 'front.log'))).toBe(false);
  });
});

describe('next cycle on a fixed port (real child processes)', () => {
  let dir: string;
  const provider = new LocalProvider({ pathVar: process.env.PATH ?? '/usr/bin:/bin', homeVar: tmpdir() });
  const running: DeployedService[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gl-fixed-port-'));
    mkdirSync(join(dir, 'deploy'));
  });
  afterEach(async () => {
    await stopServices({ stopDeployed: (d) => provider.stop(d, log) }, running.splice(0));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a service that also binds a fixed port starts again only once the previous cycle’s instance is stopped', async () => {
    const probe = createServer();
    const fixed = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as { port: number }).port)));
    await new Promise((r) => probe.close(r));
    // PORT for greenloop's health check, plus a fixed admin port from the service's own config.
    const script = `const http = require('http');
http.createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1');
http.createServer((q, s) => s.end('admin')).listen(${fixed}, '127.0.0.1').on('error', (e) => { console.error(e.code); process.exit(4); });`;
    const svc = ServiceSchema.parse({ name: 'api', deploy: { provider: 'local', command: [process.execPath, '-e', script], readyTimeout: 3_000 } });
    const deploy = (cycle: number) =>
      provider.deploy({
        loopId: 'l',
        cycle,
        commit: COMMIT,
        service: svc,
        worktree: dir,
        cycleDir: dir,
        signal: new AbortController().signal,
        log,
        progress: () => {},
      });
    const first = await deploy(1);
    running.push(first);
    // Started while the previous instance still runs (the old order), the new one cannot bind its port.
    await expect(deploy(2)).rejects.toThrow(/exited \(exit code 4\)/);
    // The deploy stage's order: stop the previous cycle's local services, then start.
    await stopServices({ stopDeployed: (d) => provider.stop(d, log) }, running.splice(0));
    const second = await deploy(2);
    running.push(second);
    expect(await (await fetch(`http://127.0.0.1:${fixed}/`)).text()).toBe('admin');
  });
});

describe('deployInOrder scheduling', () => {
  const svc = (name: string, after: string[] = []) => ServiceSchema.parse({ name, after, deploy: { provider: 'command', command: ['x'], url: 'http://x' } });

  it('runs independent services in parallel and each dependant as soon as its own dependencies are ready', async () => {
    const events: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const delays: Record<string, number> = { db: 10, slow: 120, api: 10 };
    const out = await deployInOrder([svc('db'), svc('slow'), svc('api', ['db'])], async (s) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      events.push(`start ${s.name}`);
      await new Promise((r) => setTimeout(r, delays[s.name]));
      inFlight--;
      events.push(`ready ${s.name}`);
      return s.name;
    });
    expect(maxInFlight).toBe(2);
    // api does not wait for the unrelated slow service (waves would have made it wait).
    expect(events.indexOf('start api')).toBeLessThan(events.indexOf('ready slow'));
    expect(out.deployed.map((d) => d.value)).toEqual(['db', 'api', 'slow']);
  });

  it('keeps the wave view and rejects unknown names and cycles as config errors', () => {
    expect(deployWaves([svc('a', ['b']), svc('b'), svc('c')]).map((w) => w.map((s) => s.name))).toEqual([['b', 'c'], ['a']]);
    expect(() => deployWaves([svc('a', ['zz'])])).toThrow(ConfigError);
    expect(() => deployWaves([svc('a', ['b']), svc('b', ['a'])])).toThrow(/cycle.*a → b → a/);
  });
});
