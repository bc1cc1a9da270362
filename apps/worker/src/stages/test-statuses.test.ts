import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTestStatuses, writeTestStatuses } from './test-statuses.ts';

describe('the analyze stage’s test statuses file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-statuses-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back what was written; a missing file is no history', async () => {
    const file = join(dir, 'ok.json');
    await writeTestStatuses(file, { 'chat › sends': 'passed', 'chat › fails': 'failed' });
    expect(await readTestStatuses(file)).toEqual({ 'chat › sends': 'passed', 'chat › fails': 'failed' });
    expect(await readTestStatuses(join(dir, 'missing.json'))).toBeUndefined();
  });

  it('a file that does not match the schema is an error naming the file, not a cast', async () => {
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ 'chat › sends': 'PASS' }));
    await expect(readTestStatuses(wrong)).rejects.toMatchObject({ code: 'STAGE_RECORD_INVALID', message: expect.stringContaining(wrong) });
    const garbled = join(dir, 'garbled.json');
    writeFileSync(garbled, '{"chat › sends": "pas');
    await expect(readTestStatuses(garbled)).rejects.toMatchObject({ code: 'STAGE_RECORD_INVALID' });
  });
});
