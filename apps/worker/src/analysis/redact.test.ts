import { describe, expect, it } from 'vitest';
import { redact } from './redact.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXZhbHVl';

describe('redact', () => {
  it('removes bearer tokens, JWTs and credential query values', () => {
    const out = redact(
      `Authorization: Bearer ${JWT}\nGET /api/x?token=s3cr3t&page=2 auth=${JWT} {"access_token":"abc123xyz","user":"u"} https://bob:hunter2@db.example.com/x`,
    );
    for (const secret of [JWT, 's3cr3t', 'abc123xyz', 'hunter2']) expect(out).not.toContain(secret);
    expect(out).toContain('page=2');
    expect(out).toContain('"user":"u"');
    expect(out).toContain('https://bob:[REDACTED]@db.example.com/x');
  });

  it('leaves ordinary failure text alone', () => {
    const text = 'expected 200 got 404 for POST /api/agents/7f3a9c2e/stop (exit code=1)';
    expect(redact(text)).toBe(text);
  });

  it('catches provider key shapes', () => {
    expect(redact('key ghp_0123456789abcdefghijABCDEFGHIJ and AKIAABCDEFGHIJKLMNOP')).toBe('key [REDACTED-KEY] and [REDACTED-KEY]');
  });
});
