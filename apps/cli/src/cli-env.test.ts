import { describe, expect, it } from 'vitest';
import { readCliEnv } from './cli-env.ts';

describe('readCliEnv token variable', () => {
  it('reads GREENLOOP_API_TOKEN, the name the API and worker use', () => {
    const env = readCliEnv({ GREENLOOP_API_TOKEN: ' glt_a ' }, false);
    expect(env).toMatchObject({ token: 'glt_a', tokenVar: 'GREENLOOP_API_TOKEN', warnings: [] });
  });

  it('still reads the deprecated GREENLOOP_TOKEN, with a warning', () => {
    const env = readCliEnv({ GREENLOOP_TOKEN: 'glt_old' }, false);
    expect(env.token).toBe('glt_old');
    expect(env.tokenVar).toBe('GREENLOOP_TOKEN');
    expect(env.warnings).toEqual(['GREENLOOP_TOKEN is deprecated: rename it to GREENLOOP_API_TOKEN']);
  });

  it('prefers GREENLOOP_API_TOKEN when both are set, and says the other is ignored', () => {
    const env = readCliEnv({ GREENLOOP_TOKEN: 'glt_old', GREENLOOP_API_TOKEN: 'glt_new' }, false);
    expect(env.token).toBe('glt_new');
    expect(env.warnings).toEqual(['GREENLOOP_TOKEN is ignored: GREENLOOP_API_TOKEN is set']);
  });

  it('has no token and no warning when neither is set', () => {
    expect(readCliEnv({}, false)).toMatchObject({ token: undefined, tokenVar: 'GREENLOOP_API_TOKEN', warnings: [] });
  });
});
