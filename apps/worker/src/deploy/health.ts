import { GreenloopError } from '@greenloop/core';
import { PROBE_HEADER, PROBE_USER_AGENT } from '../ingest/log-entry.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every greenloop probe sends: the user agent and header `ingest/` and the recording proxy recognise. */
export const PROBE_HEADERS: Readonly<Record<string, string>> = { 'user-agent': PROBE_USER_AGENT, [PROBE_HEADER]: '1' };

export interface HealthWait {
  url: string;
  service: string;
  path: string;
  timeoutMs: number;
  signal: AbortSignal;
  progress: (message: string) => void;
  /** Checked before each poll: a reason here (e.g. "exited with code 3") fails at once. */
  gone?: () => string | undefined;
  /** 401/403 count as "up but private" instead of "not ready" (Cloud Run services that need an ID token). */
  acceptAuthRequired?: boolean;
}

/**
 * Polls `<url><path>` until it answers 2xx. Fast at first (most services are up within a second), then
 * backing off to 250ms. Returns the status seen; throws DEPLOY_NOT_READY with the last error otherwise.
 */
export async function waitHealthy(w: HealthWait): Promise<number> {
  const healthUrl = `${w.url}${w.path}`;
  const started = Date.now();
  let lastProgress = started;
  let lastError = 'no answer yet';
  for (;;) {
    if (w.signal.aborted) throw new GreenloopError('CANCELLED', 'deploy cancelled');
    const gone = w.gone?.();
    if (gone) throw new GreenloopError('DEPLOY_NOT_READY', `${w.service} ${gone} before ${w.path} answered`);
    try {
      // Marked so that realness never counts greenloop's own probe as the suite's traffic.
      const res = await fetch(healthUrl, { signal: AbortSignal.timeout(2000), redirect: 'manual', headers: PROBE_HEADERS });
      await res.body?.cancel();
      if (res.ok || (w.acceptAuthRequired && (res.status === 401 || res.status === 403))) return res.status;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as Error).cause;
      lastError = cause instanceof Error ? cause.message : (err as Error).message;
    }
    const waited = Date.now() - started;
    if (waited > w.timeoutMs) {
      throw new GreenloopError(
        'DEPLOY_NOT_READY',
        `${w.service} did not answer ${w.path} with 2xx within ${Math.round(w.timeoutMs / 1000)}s (last: ${lastError})`,
        {
          details: { healthUrl, lastError },
        },
      );
    }
    if (Date.now() - lastProgress > 2000) {
      lastProgress = Date.now();
      w.progress(`waiting for ${w.service} on ${healthUrl}: ${Math.round(waited / 1000)}s (${lastError})`);
    }
    await sleep(Math.min(250, 10 + waited / 10));
  }
}
