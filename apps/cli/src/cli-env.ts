/** The CLI's own settings, read from its environment in this one place. */
export interface CliEnv {
  /** Base URL of the greenloop API (GREENLOOP_URL). */
  url: string;
  /** Bearer token (GREENLOOP_TOKEN). */
  token: string | undefined;
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
  const token = (env.GREENLOOP_TOKEN ?? '').trim() || undefined;
  return { url: url.replace(/\/+$/, ''), token, color: isTTY && !env.NO_COLOR && env.TERM !== 'dumb' };
}
