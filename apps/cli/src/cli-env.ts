/** The CLI's own settings, read from its environment in this one place. */
export interface CliEnv {
  /** Base URL of the greenloop API (GREENLOOP_URL). */
  url: string;
  /** Bearer token: GREENLOOP_API_TOKEN (the name the API and worker use too), or the deprecated GREENLOOP_TOKEN. */
  token: string | undefined;
  /** The variable the token came from, for messages. */
  tokenVar: 'GREENLOOP_API_TOKEN' | 'GREENLOOP_TOKEN';
  /** Things to tell the user once (a deprecated variable in use). */
  warnings: string[];
  /** Colors on a terminal unless NO_COLOR is set. */
  color: boolean;
}

export const DEFAULT_URL = 'http://127.0.0.1:7700';

/** Throws with a message naming the variable when a value is unusable. */
export function readCliEnv(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): CliEnv {
  const url = (env.GREENLOOP_URL ?? '').trim() || DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`GREENLOOP_URL is not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`GREENLOOP_URL must be http(s), got ${parsed.protocol}`);
  const current = (env.GREENLOOP_API_TOKEN ?? '').trim() || undefined;
  const legacy = (env.GREENLOOP_TOKEN ?? '').trim() || undefined;
  const warnings: string[] = [];
  // One name everywhere: the old one still works, with a warning, until it is removed.
  if (legacy && !current) warnings.push('GREENLOOP_TOKEN is deprecated: rename it to GREENLOOP_API_TOKEN');
  if (legacy && current && legacy !== current) warnings.push('GREENLOOP_TOKEN is ignored: GREENLOOP_API_TOKEN is set');
  const tokenVar = current || !legacy ? 'GREENLOOP_API_TOKEN' : 'GREENLOOP_TOKEN';
  return { url: url.replace(/\/+$/, ''), token: current ?? legacy, tokenVar, warnings, color: isTTY && !env.NO_COLOR && env.TERM !== 'dumb' };
}
