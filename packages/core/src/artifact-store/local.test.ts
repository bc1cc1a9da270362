import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from './local.ts';

describe('LocalArtifactStore (the embedded store: <home>/artifacts on disk)', () => {
  let home: string;
  let store: LocalArtifactStore;
  const L = 'loop-local1';
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'gl-local-store-'));
    const dir = join(home, 'artifacts', L);
    mkdirSync(join(dir, 'cycle-1', 'test'), { recursive: true });
    writeFileSync(join(dir, 'cycle-1', 'test', 'stdout.txt'), 'hello\n');
    writeFileSync(join(dir, 'cycle-1', 'report.md'), '# r\n');
    mkdirSync(join(home, 'artifacts', `${L}-other`));
    writeFileSync(join(home, 'artifacts', `${L}-other`, 'x.txt'), 'other loop');
    writeFileSync(join(home, 'secret.txt'), 'outside');
    symlinkSync(join(home, 'secret.txt'), join(dir, 'escape.txt'));
    symlinkSync(join(dir, 'cycle-1', 'report.md'), join(dir, 'inside.md'));
    store = new LocalArtifactStore(join(home, 'artifacts'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('lists, stats and streams what is under the loop, a link that stays inside readable', async () => {
    expect(store.location).toBe(`local:${join(home, 'artifacts')}`);
    // Links are not listed (nor published to a bucket); one that stays inside can still be read.
    expect(await store.list(L, '')).toEqual([{ name: 'cycle-1', type: 'dir' }]);
    expect(await store.list(L, 'cycle-1/')).toEqual([
      { name: 'report.md', type: 'file', size: 4 },
      { name: 'test', type: 'dir' },
    ]);
    expect(await store.stat(L, 'cycle-1/test/stdout.txt')).toEqual({ size: 6 });
    expect(await store.stat(L, 'cycle-1')).toBeUndefined();
    expect(await text(await store.read(L, 'cycle-1/test/stdout.txt'))).toBe('hello\n');
    expect(await text(await store.read(L, 'inside.md'))).toBe('# r\n');
    expect(await store.syncLoop(L, join(home, 'artifacts', L))).toEqual({ uploaded: 0, unchanged: 0, bytes: 0, refused: [] });
  });

  it('never leaves the loop: ".." is refused, a link out reads as missing', async () => {
    await expect(store.stat(L, '../loop-local1-other/x.txt')).rejects.toMatchObject({ code: 'ARTIFACT_PATH_NOT_ALLOWED' });
    await expect(store.read(L, '/etc/passwd')).rejects.toMatchObject({ code: 'ARTIFACT_PATH_NOT_ALLOWED' });
    expect(await store.stat(L, 'escape.txt')).toBeUndefined();
    await expect(store.read(L, 'escape.txt')).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    expect(await store.list('loop-none', '')).toBeUndefined();
  });

  it('deletes a loop (a dry run only counts)', async () => {
    expect(await store.deleteLoop(`${L}-other`, { dryRun: true })).toEqual({ objects: 1, bytes: 10 });
    expect(await store.stat(`${L}-other`, 'x.txt')).toEqual({ size: 10 });
    expect(await store.deleteLoop(`${L}-other`)).toEqual({ objects: 1, bytes: 10 });
    expect(await store.list(`${L}-other`, '')).toBeUndefined();
  });
});
