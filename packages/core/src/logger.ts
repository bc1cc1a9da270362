import { type Logger, pino } from 'pino';

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

export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
