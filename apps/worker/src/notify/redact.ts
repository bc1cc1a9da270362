/**
 * Text that leaves greenloop in a notification comes from records, but records hold free text written
 * by tests and services (failure messages, cluster titles). These helpers strip what looks like a
 * credential from such text and make it safe to embed in Slack mrkdwn.
 */

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  // Authorization headers echoed into assertion messages ("expected 200, request had Bearer eyJ…").
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  // JWTs: three base64url parts, the first always starts with a JSON object ("eyJ").
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  // Slack incoming webhooks and tokens.
  [/https?:\/\/hooks\.slack(?:-gov)?\.com\/[^\s<>"'|]*/gi, '[redacted-url]'],
  [/\bxox[abposr]-[A-Za-z0-9-]{8,}/g, '[redacted-token]'],
  // GitHub, AWS and generic "sk-" style API keys.
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, '[redacted-token]'],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/g, '[redacted-token]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[redacted-key]'],
  [/\bsk-[A-Za-z0-9_-]{20,}/g, '[redacted-key]'],
  // Credentials in URLs and key=value pairs.
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, '$1[redacted]@'],
  [
    /\b((?:access_|refresh_|id_)?token|api[_-]?key|apikey|secret|password|passwd|client_secret|sig|signature)(["']?\s*[=:]\s*["']?)[^\s"'&,;)]+/gi,
    '$1$2[redacted]',
  ],
];

/** Replaces bearer tokens, JWTs, webhook URLs, API keys and `password=…`-style values with markers. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of SECRET_PATTERNS) out = out.replace(re, replacement);
  return out;
}

/**
 * Escapes the three characters Slack treats as control sequences in mrkdwn. Without this, a test
 * message containing `<!channel>` would ping a whole channel and `<http://x|y>` would render a link.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Free text from records, ready for mrkdwn: redacted, escaped, collapsed onto one line, capped. */
export function safeInline(text: string, maxChars: number): string {
  return escapeMrkdwn(truncate(redactSecrets(text).replace(/\s+/g, ' ').trim(), maxChars));
}

/**
 * Shortens to at most `maxChars` UTF-16 units, ending in "…" when cut. Never splits a surrogate pair,
 * so a cut through an emoji does not leave an invalid half character behind.
 */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = Math.max(0, maxChars - 1);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}
