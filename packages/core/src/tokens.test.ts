import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isReservedTokenName, resolveTokenSecret, tokenMac } from './tokens.ts';

describe('token secret', () => {
  const home = mkdtempSync(join(tmpdir(), 'gl-token-secret-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('is generated once into a 0600 file that every process on the machine then reads', () => {
    const first = resolveTokenSecret({ home });
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(home, 'token-secret')).mode & 0o777).toBe(0o600);
    expect(resolveTokenSecret({ home })).toBe(first);
  });

  it('GREENLOOP_TOKEN_SECRET wins over the file', () => {
    expect(resolveTokenSecret({ secret: 's'.repeat(40), home })).toBe('s'.repeat(40));
  });

  it('a MAC under another secret does not match', () => {
    expect(tokenMac('a'.repeat(32), 'glt_x')).not.toBe(tokenMac('b'.repeat(32), 'glt_x'));
    expect(tokenMac('a'.repeat(32), 'glt_x')).toBe(tokenMac('a'.repeat(32), 'glt_x'));
  });

  it('reserves bootstrap* and system* names', () => {
    for (const n of ['bootstrap-admin', 'bootstrap', 'system', 'systemd']) expect(isReservedTokenName(n), n).toBe(true);
    for (const n of ['ci', 'my-bootstrap', 'admin']) expect(isReservedTokenName(n), n).toBe(false);
  });
});
