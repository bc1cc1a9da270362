// Structured logging: one JSON object per line on stdout, so that greenloop's
// log collector can parse lines and correlate them with failing tests.

/**
 * @param {'info' | 'warn' | 'error'} level
 * @param {string} msg
 * @param {Record<string, unknown>} [fields]
 */
export function log(level, msg, fields = {}) {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  process.stdout.write(`${line}\n`);
}

/** Shape of `err` in log lines: `{ type, message, stack }`. */
export function serializeError(err) {
  if (err instanceof Error) {
    return { type: err.name, message: err.message, stack: err.stack };
  }
  return { type: typeof err, message: String(err), stack: undefined };
}

/** Log level for a finished HTTP exchange. */
export function levelForStatus(status) {
  if (status >= 500) return 'error';
  if (status >= 400) return 'warn';
  return 'info';
}
