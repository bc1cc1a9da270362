import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger, ServiceSchema } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeSandbox, type SandboxSettings, sandboxSettings } from '../process/sandbox.ts';
import { CommandProvider } from './command.ts';
import { deployCredentialPaths } from './step-sandbox.ts';

const bwrap = await probeSandbox();
const log = createLogger('test', 'silent');

/** A hostile deploy script from the branch: reports what it could read and write, into this cycle's directory. */
const PROBE = `
const fs = require('fs');
// Paths come through the environment: absolute file arguments are exposed to the command on purpose (scripts).
const { PROBE_OUT: out, PROBE_SECRET: secret, PROBE_ADC: adc, PROBE_GCLOUD: gcloud, PROBE_WORKER: workerPid } = process.env;
const can = (f) => { try { f(); return true; } catch { return false; } };
const environ = (pid) => { try { return fs.readFileSync('/proc/' + pid + '/environ', 'latin1'); } catch { return ''; } };
const all = fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).map(environ).join('\\n');
fs.writeFileSync(out, JSON.stringify({
  secret: can(() => fs.readFileSync(secret)),
  workerEnviron: environ(workerPid).length > 0,
  parentEnviron: environ(process.ppid).includes('VITEST'),
  scanSeesWorker: all.includes('VITEST'),
  adcRead: can(() => fs.readFileSync(adc, 'utf8') === '{"type":"service_account"}' || (() => { throw 0; })()),
  adcWrite: can(() => fs.writeFileSync(adc, 'pwned')),
  gcloudRead: can(() => fs.readFileSync(gcloud + '/credentials.db')),
  gcloudWrite: can(() => fs.writeFileSync(gcloud + '/planted', 'x')),
}));
`;

let root: string;
let home: string;
let userHome: string;
let worktree: string;
let cycleDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'greenloop-step-sandbox-'));
  home = join(root, 'greenloop-home');
  userHome = join(root, 'user-home');
  worktree = join(home, 'worktrees', 'loop-a', 'deploy-c1');
  cycleDir = join(home, 'artifacts', 'loop-a', 'cycle-1');
  await mkdir(worktree, { recursive: true });
  await mkdir(cycleDir, { recursive: true });
  await mkdir(join(userHome, '.config', 'gcloud'), { recursive: true });
  await writeFile(join(home, 'redis.password'), 'not for deploy commands\n');
  await writeFile(join(home, 'adc.json'), '{"type":"service_account"}');
  await writeFile(join(userHome, '.config', 'gcloud', 'credentials.db'), 'tokens');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function deployProbe(sandbox: SandboxSettings) {
  const env = { PATH: dirname(process.execPath), HOME: userHome, GOOGLE_APPLICATION_CREDENTIALS: join(home, 'adc.json') };
  const provider = new CommandProvider({ env });
  const out = join(cycleDir, 'probe.json');
  const gcloud = join(userHome, '.config', 'gcloud');
  const service = ServiceSchema.parse({
    name: 'api',
    deploy: {
      provider: 'command',
      url: 'http://127.0.0.1:1',
      command: [process.execPath, '-e', PROBE],
      env: {
        PROBE_OUT: out,
        PROBE_SECRET: join(home, 'redis.password'),
        PROBE_ADC: join(home, 'adc.json'),
        PROBE_GCLOUD: gcloud,
        PROBE_WORKER: String(process.pid),
      },
    },
  });
  const deployed = await provider.deploy({
    loopId: 'loop-a',
    cycle: 1,
    commit: 'b'.repeat(40),
    service,
    worktree,
    cycleDir,
    sandbox,
    signal: new AbortController().signal,
    log,
    progress: () => {},
  });
  await provider.close();
  return { deployed, probe: JSON.parse(await readFile(out, 'utf8')) as Record<string, boolean> };
}

describe('deployCredentialPaths', () => {
  it('names the credentials by variable, else the tools’ default places under HOME', () => {
    expect(deployCredentialPaths({ HOME: '/h', CLOUDSDK_CONFIG: '/c', GOOGLE_APPLICATION_CREDENTIALS: '/a.json', DOCKER_CONFIG: '/d' })).toEqual([
      '/c',
      '/a.json',
      '/d',
    ]);
    expect(deployCredentialPaths({ HOME: '/h' })).toEqual(['/h/.config/gcloud', '/h/.docker']);
    expect(deployCredentialPaths({})).toEqual([]);
  });
});

describe.skipIf(!bwrap.available)('deploy commands in the sandbox', () => {
  it('a sandboxed deploy command cannot read greenloop’s home or its environment, reads its credentials read-only', { timeout: 30_000 }, async () => {
    const { deployed, probe } = await deployProbe(sandboxSettings('on', { home, repo: join(root, 'repo'), userHome }));
    expect(deployed.sandboxed).toBe(true);
    expect(deployed.sandboxNote).toBeUndefined();
    expect(probe).toEqual({
      secret: false,
      workerEnviron: false,
      parentEnviron: false,
      scanSeesWorker: false,
      adcRead: true,
      adcWrite: false,
      gcloudRead: true,
      gcloudWrite: false,
    });
    expect(await readFile(join(home, 'adc.json'), 'utf8')).toBe('{"type":"service_account"}');
  });

  it('control: the same command with sandbox: off reads all of it (so the test above can fail)', { timeout: 30_000 }, async () => {
    const { deployed, probe } = await deployProbe(sandboxSettings('off', { home, repo: join(root, 'repo'), userHome }));
    expect(deployed.sandboxed).toBe(false);
    expect(deployed.sandboxNote).toBe('sandbox: off in greenloop.yaml');
    expect(probe).toMatchObject({ secret: true, workerEnviron: true, parentEnviron: true, scanSeesWorker: true, adcWrite: true, gcloudWrite: true });
  });
});

it('sandbox: auto without a working bwrap runs the deploy command unsandboxed and records why', { timeout: 30_000 }, async () => {
  const { deployed } = await deployProbe({ ...sandboxSettings('auto', { home, repo: join(root, 'repo'), userHome }), bwrap: join(root, 'no-bwrap') });
  expect(deployed.sandboxed).toBe(false);
  expect(deployed.sandboxNote).toMatch(/running the deploy command unsandboxed: bubblewrap .* is not installed/);
});
