import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeployedService } from '@greenloop/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalLogSource } from './local.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gl-local-logs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const service = (name: string, logFile: string): DeployedService => ({
  service: name,
  provider: 'local',
  url: 'http://127.0.0.1:1',
  revision: `local-${name}`,
  readyAt: '2026-12-02T12:49:00.000Z',
  logFile,
});

describe('LocalLogSource', () => {
  it('reads epoch-second JSON lines into the test window (not 1970), keeps a traceback, and counts unreadable times', async () => {
    const api = join(dir, 'api.log');
    await writeFile(
      api,
      [
        '{"time": 1796215700.0, "severity": "INFO", "message": "before the window"}',
        '{"time": 1796215811.69, "severity": "INFO", "message": "request", "method": "GET", "path": "/api/orders", "status": 500}',
        'Traceback (most recent call last):',
        '  File "/src/app/main.py", line 9, in handler',
        "KeyError: 'id'",
        '{"time": 1796215900.0, "severity": "INFO", "message": "after the window"}',
      ].join('\n'),
    );
    const plain = join(dir, 'web.log');
    await writeFile(plain, 'no times here\nat all\n');
    const pull = await new LocalLogSource().pull({
      services: [service('api', api), service('web', plain)],
      from: '2026-12-02T12:50:00.000Z',
      to: '2026-12-02T12:51:00.000Z',
      runId: 'r1',
    });
    expect(pull.entries.map((e) => [e.service, e.time, e.message.split('\n')[0], e.timeUnknown ?? false, e.revision])).toEqual([
      ['api', '2026-12-02T12:50:11.690Z', 'request', false, 'local-api'],
      ['api', '2026-12-02T12:50:11.690Z', 'Traceback (most recent call last):', true, 'local-api'],
      ['web', '2026-12-02T12:51:00.000Z', 'no times here', true, 'local-web'],
      ['web', '2026-12-02T12:51:00.000Z', 'at all', true, 'local-web'],
    ]);
    expect(pull.failingRequests).toEqual([{ method: 'GET', path: '/api/orders', status: 500, count: 1 }]);
    expect(pull.stats).toEqual({ lines: 8, entries: 6, timeRead: 3, timeUnknown: 3, zoneAssumed: 0 });
    expect(pull.query).toContain('3 without a readable time (kept in order');
  });
});
