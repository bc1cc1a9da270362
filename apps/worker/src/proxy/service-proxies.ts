import type { DeployedService } from '@greenloop/core';
import { traceIdFor } from '../analysis/correlate.ts';
import { type RecordingProxy, startRecordingProxy } from './recording-proxy.ts';
import { RequestRecorder } from './request-record.ts';

/**
 * The recording proxies of one test run, one per deployed service, all writing to one requests.jsonl.
 * `await using` stops them when the test stage leaves its scope, whichever way it leaves.
 */
export interface ServiceProxies {
  /** Service name → the URL the suite must call (the proxy's). */
  urls: Record<string, string>;
  file: string;
  /** Stops every proxy and flushes the records (once; later calls get the same answer). */
  close(): Promise<{ written: number; dropped: number }>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a recording proxy in front of every service (`requestsFile` gets one JSON line per request).
 * `runId` names the run for suites that send a test name without their own trace context.
 */
export async function startServiceProxies(services: readonly DeployedService[], requestsFile: string, runId: string): Promise<ServiceProxies> {
  const recorder = new RequestRecorder(requestsFile);
  const proxies: RecordingProxy[] = [];
  try {
    for (const s of services) {
      proxies.push(
        await startRecordingProxy({
          service: s.service,
          target: s.url,
          recorder,
          deriveTraceId: (test, suiteRunId) => traceIdFor(suiteRunId ?? runId, test),
        }),
      );
    }
  } catch (err) {
    await Promise.all(proxies.map((p) => p.close()));
    await recorder.close();
    throw err;
  }
  let closed: Promise<{ written: number; dropped: number }> | undefined;
  const close = () => {
    closed ??= Promise.all(proxies.map((p) => p.close())).then(() => recorder.close());
    return closed;
  };
  return {
    urls: proxiedUrls(proxies),
    file: requestsFile,
    close,
    async [Symbol.asyncDispose]() {
      await close();
    },
  };
}

/** Service name → proxy URL: what `{{url.<service>}}` and GREENLOOP_URL_<SERVICE> resolve to for the suite. */
export function proxiedUrls(proxies: readonly Pick<RecordingProxy, 'service' | 'url'>[]): Record<string, string> {
  return Object.fromEntries(proxies.map((p) => [p.service, p.url]));
}
