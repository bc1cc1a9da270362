import { redact } from '@greenloop/core';

/**
 * Text that leaves greenloop in a notification comes from records, but records hold free text written
 * by tests and services (failure messages, cluster titles). These helpers pass such text through the one
 * redactor and make it safe to embed in Slack mrkdwn.
 */

/**
 * Escapes the three characters Slack treats as control sequences in mrkdwn. Without this, a test
 * message containing `<!channel>` would ping a whole channel and `<http://x|y>` would render a link.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Free text from records, ready for mrkdwn: redacted, escaped, collapsed onto one line, capped. */
export function safeInline(text: string, maxChars: number): string {
  return escapeMrkdwn(truncate(redact(text).replace(/\s+/g, ' ').trim(), maxChars));
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
