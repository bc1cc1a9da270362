import type { ServicesClient } from '@google-cloud/run';

/** Options for the Google client libraries (`ServicesClient`, `RevisionsClient`, `Logging`). */
export type GoogleClientOptions = NonNullable<ConstructorParameters<typeof ServicesClient>[0]>;

/**
 * The one way greenloop builds a Google client's options, in production and in tests alike: always the
 * REST transport (`fallback: true`: HTTP/1.1 + JSON through google-gax, no gRPC channel), because that is
 * the transport the tests drive against the local fake of the Google APIs. Production passes nothing
 * else (run.googleapis.com / logging.googleapis.com with Application Default Credentials); tests add
 * only where to connect (`apiEndpoint`, `port`, `protocol: 'http'`) and an auth client that sends no
 * credentials. Nothing can switch the transport back to gRPC.
 */
export function googleClientOptions(where: Omit<GoogleClientOptions, 'fallback'> = {}): GoogleClientOptions {
  return { ...where, fallback: true };
}
