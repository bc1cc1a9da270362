import { type DestinationStream, type Logger, pino } from 'pino';
import { redact, redactDeep } from './redact.ts';

export type { Logger };

/**
 * Secrets never reach logs: these paths are censored wherever they appear. Tokens are also never put
 * into log objects in the first place; this is the second line of defence.
 */
export const REDACT_PATHS = [
  'authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'token',
  '*.token',
  'webhookUrl',
  '*.webhookUrl',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

/** greenloop's logger: censored paths, every value through the redactor; to stdout unless `destination` is given (tests). */
export function createLogger(name: string, level = 'info', destination?: DestinationStream): Logger {
  const opts = { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, hooks: { logMethod: redactLogArgs } };
  return destination ? pino(opts, destination) : pino(opts);
}

/** pino hook: every string and plain object logged goes through the one redactor (log lines leave the process). */
export function redactLogArgs(this: Logger, args: Parameters<Logger['info']>, method: (...a: Parameters<Logger['info']>) => void): void {
  method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : redactDeep(a))) as Parameters<Logger['info']>);
}
