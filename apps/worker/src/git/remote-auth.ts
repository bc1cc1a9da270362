import { GreenloopError } from '@greenloop/core';

/**
 * Credentials for one git remote, handed to git through its environment only: never in argv (any local
 * user reads the process list), never in the URL (git prints URLs in its errors and stores them in config).
 */
export interface RemoteCredentials {
  /** An https token, sent as `Authorization: Bearer <token>` (http.extraHeader). */
  token?: string;
  /** An ssh private key file, for ssh remotes (`ssh -i`); unset, the worker's own ssh setup applies. */
  sshKey?: string;
}

/** An ssh remote: `ssh://…` or scp-like `user@host:path` (git's own rule: a colon before any slash). */
export function isSshRemote(remote: string): boolean {
  if (/^ssh:\/\//i.test(remote) || /^git\+ssh:\/\//i.test(remote)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) return false;
  const colon = remote.indexOf(':');
  const slash = remote.indexOf('/');
  return colon > 0 && (slash < 0 || colon < slash);
}

/**
 * A project's credentials from the worker environment variable its `credentialsSecret` names: a token
 * for an https remote, the path of a private key file for an ssh one. A named variable that is not set
 * is an error (a fetch without it would only fail later with a vaguer message).
 */
export function remoteCredentials(remote: string, secretName: string | undefined, processEnv: Readonly<Record<string, string | undefined>>): RemoteCredentials {
  if (!secretName) return {};
  const value = processEnv[secretName];
  if (!value)
    throw new GreenloopError('SOURCE_CREDENTIALS_MISSING', `${secretName} (the project's credentialsSecret) is not set in this worker's environment`, {
      hint: `set ${secretName} on every worker: a token for an https remote, the path of a private key file for an ssh remote`,
    });
  if (!isSshRemote(remote)) return { token: value };
  // The path goes into GIT_SSH_COMMAND, which git runs through a shell: single-quoted, so only a quote can escape.
  if (value.includes("'"))
    throw new GreenloopError('SOURCE_CREDENTIALS_INVALID', `${secretName} must be the path of an ssh private key file without a single quote in it`);
  return { sshKey: value };
}

/**
 * greenloop's own environment for a git process talking to a remote, plus the credentials: the token as
 * an extra header through GIT_CONFIG_COUNT/KEY/VALUE (appended to any the environment already has), the
 * ssh key through GIT_SSH_COMMAND; no terminal prompt either way (a missing credential fails, never hangs).
 */
export function remoteGitEnv(base: Readonly<Record<string, string | undefined>>, creds: RemoteCredentials): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base, GIT_TERMINAL_PROMPT: '0' };
  if (creds.token) {
    const i = Number.parseInt(env.GIT_CONFIG_COUNT ?? '0', 10) || 0;
    env.GIT_CONFIG_COUNT = String(i + 1);
    env[`GIT_CONFIG_KEY_${i}`] = 'http.extraHeader';
    env[`GIT_CONFIG_VALUE_${i}`] = `Authorization: Bearer ${creds.token}`;
  }
  if (creds.sshKey) env.GIT_SSH_COMMAND = `ssh -i '${creds.sshKey}' -o IdentitiesOnly=yes -o BatchMode=yes`;
  return env;
}

/** Removes the token from text git printed (an error message, a log line). */
export function scrubCredentials(text: string, creds: RemoteCredentials): string {
  return creds.token ? text.split(creds.token).join('[redacted]') : text;
}

/** The remote as it may be shown: any user:password part of a URL removed. */
export function displayRemote(remote: string): string {
  try {
    const url = new URL(remote);
    if (!url.username && !url.password) return remote;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return remote;
  }
}
