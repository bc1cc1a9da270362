import { describe, expect, it } from 'vitest';
import { displayRemote, isSshRemote, remoteCredentials, remoteGitEnv, scrubCredentials } from './remote-auth.ts';

describe('remote credentials', () => {
  it('tells ssh remotes (ssh:// and scp-like) from https, file URLs and local paths', () => {
    for (const r of ['ssh://git@github.com/acme/shop.git', 'git@github.com:acme/shop.git', 'deploy@10.0.0.5:repos/shop']) expect(isSshRemote(r), r).toBe(true);
    for (const r of ['https://github.com/acme/shop.git', 'file:///srv/shop.git', '/srv/git/shop.git', './shop.git', 'C/x:y'])
      expect(isSshRemote(r), r).toBe(false);
  });

  it('reads a token for https and a key path for ssh from the variable credentialsSecret names', () => {
    const env = { SHOP: 'ghs_abc', KEY: '/run/secrets/shop_key' };
    expect(remoteCredentials('https://git.example/shop.git', 'SHOP', env)).toEqual({ token: 'ghs_abc' });
    expect(remoteCredentials('git@git.example:shop.git', 'KEY', env)).toEqual({ sshKey: '/run/secrets/shop_key' });
    expect(remoteCredentials('/srv/shop.git', undefined, env)).toEqual({});
    expect(() => remoteCredentials('https://git.example/shop.git', 'NOPE', env)).toThrow(/NOPE \(the project's credentialsSecret\) is not set/);
    expect(() => remoteCredentials('git@git.example:shop.git', 'Q', { Q: "/k'; rm -rf ~; '" })).toThrow(/without a single quote/);
  });

  it('puts the token in GIT_CONFIG_* after the ones already set, the key in GIT_SSH_COMMAND, and never prompts', () => {
    const env = remoteGitEnv({ PATH: '/bin', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'a.b', GIT_CONFIG_VALUE_0: 'c' }, { token: 't0k' });
    expect(env).toMatchObject({ GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'a.b', GIT_CONFIG_KEY_1: 'http.extraHeader' });
    expect(env.GIT_CONFIG_VALUE_1).toBe('Authorization: Bearer t0k');
    const ssh = remoteGitEnv({}, { sshKey: '/keys/shop' });
    expect(ssh.GIT_SSH_COMMAND).toBe("ssh -i '/keys/shop' -o IdentitiesOnly=yes -o BatchMode=yes");
    expect(ssh.GIT_CONFIG_COUNT).toBeUndefined();
  });

  it('scrubs the token from git output and the user:password part from a remote shown to people', () => {
    expect(scrubCredentials('fatal: header t0k refused, t0k', { token: 't0k' })).toBe('fatal: header [redacted] refused, [redacted]');
    expect(displayRemote('https://me:s3cret@git.example/shop.git')).toBe('https://git.example/shop.git');
    expect(displayRemote('git@git.example:shop.git')).toBe('git@git.example:shop.git');
  });
});
