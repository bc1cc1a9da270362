import { afterEach, describe, expect, it } from 'vitest';
import { PLANTED_SECRETS as PLANTED } from './planted-secrets.ts';
import { addKnownSecrets, clearKnownSecrets, redact, redactDeep, secretEnvNames, secretValuesOf } from './redact.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXZhbHVl';

describe('redact', () => {
  afterEach(() => clearKnownSecrets());

  it.each(PLANTED)('removes %s', (secret, text) => {
    const out = redact(text);
    expect(out).not.toContain(secret);
    expect(out).toMatch(/\[redacted/);
  });

  it('keeps what is not secret around what is', () => {
    expect(redact('GET /api/x?token=abc123xyz&page=2')).toBe('GET /api/x?token=[redacted]&page=2');
    expect(redact('https://bob:hunter2@db.example.com/x')).toBe('https://bob:[redacted]@db.example.com/x');
    expect(redact('{"access_token":"abc123xyz","user":"u"}')).toBe('{"access_token":"[redacted]","user":"u"}');
    expect(redact(`Authorization: Bearer ${JWT}`)).toBe('Authorization: Bearer [redacted]');
  });

  it('leaves ordinary failure text alone', () => {
    for (const text of [
      'expected 200 got 404 for POST /api/agents/7f3a9c2e/stop (exit code=1)',
      'AssertionError: expected { status: 500 } to deeply equal { status: 200 }',
      'Error: connect ECONNREFUSED 127.0.0.1:8080 at https://example.com/a/b?page=2',
    ]) {
      expect(redact(text)).toBe(text);
    }
  });

  it('is idempotent', () => {
    for (const [, text] of PLANTED) expect(redact(redact(text))).toBe(redact(text));
  });

  it('removes the literal values of known secrets, URL-encoded too, and ignores short ones', () => {
    addKnownSecrets(['plain-secret-value-42', 'short', 'with space&amp=1']);
    expect(redact('a plain-secret-value-42 b')).toBe('a [redacted-secret] b');
    expect(redact('q=with%20space%26amp%3D1')).toBe('q=[redacted-secret]');
    expect(redact('short')).toBe('short');
  });

  it('redacts every string of a JSON value, keys kept', () => {
    expect(redactDeep({ reason: `bad ${JWT}`, n: 1, list: ['password=abcdefgh'], nested: { ok: true } })).toEqual({
      reason: 'bad [redacted-jwt]',
      n: 1,
      list: ['password=[redacted]'],
      nested: { ok: true },
    });
  });

  it('collects greenloop secret values and the *Env names greenloop.yaml uses', () => {
    const names = secretEnvNames({
      environments: {
        a: {
          notifications: { slack: { webhookUrlEnv: 'SLACK_URL' }, webhook: { urlEnv: 'HOOK_URL', secretEnv: 'HOOK_SECRET' } },
          loop: { push: { tokenEnv: 'PUSH' } },
          fixer: { passEnv: ['MODEL_KEY'] },
        },
        b: { notifications: { slack: { botTokenEnv: 'SLACK_BOT_TOKEN' } } },
        c: { pullRequest: { tokenEnv: 'GH_PR_TOKEN' } },
      },
    });
    expect(names.sort()).toEqual(['GH_PR_TOKEN', 'HOOK_SECRET', 'HOOK_URL', 'MODEL_KEY', 'PUSH', 'SLACK_BOT_TOKEN', 'SLACK_URL']);
    const values = secretValuesOf(
      { GREENLOOP_API_TOKEN: 'bootstrap-token-1234', REDIS_URL: 'redis://:pa%40ss-word@h:1', SLACK_URL: 'https://hooks.slack.com/x' },
      names,
    );
    expect(values).toEqual(['bootstrap-token-1234', 'pa@ss-word', 'https://hooks.slack.com/x']);
  });

  it('is fast on long ordinary text, and no input makes a rule backtrack for long', () => {
    const text = 'at Object.<anonymous> (/srv/app/src/handlers/user.ts:42:13) expected 200 received 500 '.repeat(50);
    addKnownSecrets(['known-secret-one-1', 'known-secret-two-2', 'known-secret-three']);
    const start = performance.now();
    for (let i = 0; i < 2000; i++) redact(text);
    const perCall = (performance.now() - start) / 2000;
    // ~4 KB per call: ~0.08 ms on an idle 2-core VM. The bound is loose (the machine is shared) but far
    // below what a backtracking rule costs.
    expect(perCall).toBeLessThan(2);
    // Inputs shaped to make the key=value, JSON-field, PEM and URL rules try hard: each must stay linear.
    for (const evil of [
      `${'a_'.repeat(50_000)}token`,
      `"${'x'.repeat(50_000)}`,
      `\\&quot;password\\&quot;: \\&quot;${'y'.repeat(50_000)}`,
      `-----BEGIN PRIVATE KEY-----${' A'.repeat(50_000)}`,
      `https://${'u'.repeat(50_000)}:`,
    ]) {
      const t0 = performance.now();
      redact(evil);
      expect(performance.now() - t0, evil.slice(0, 30)).toBeLessThan(1000);
    }
  });
});
