/**
 * Secret redaction for everything greenloop copies into reports, dossiers and cluster files: test output and
 * server log lines routinely carry bearer tokens, JWTs and `?token=` URLs, and reports travel to Slack and to
 * an AI fixer.
 */

const RULES: readonly [RegExp, string][] = [
  // Authorization headers in any casing, with or without a scheme.
  [/\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)(bearer|basic|token|digest)?\s*[^\s"',;)]+/gi, '$1$2$3 [REDACTED]'],
  [/\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*/gi, '$1 [REDACTED]'],
  // JSON Web Tokens: three base64url parts, the first one a JSON header (`eyJ`).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[REDACTED-JWT]'],
  // Credentials in query strings and key=value text.
  [
    /\b((?:access_|id_|refresh_|api_|auth_|session_|x-amz-security-)?token|api[_-]?key|apikey|secret|client_secret|password|passwd|pwd|signature|sig|x-amz-signature)=([^&\s"'#]+)/gi,
    '$1=[REDACTED]',
  ],
  // JSON fields with secret-looking names.
  [/("(?:[a-z_]*token|password|secret|api_?key|authorization|cookie)"\s*:\s*")([^"]+)(")/gi, '$1[REDACTED]$3'],
  // user:password@ in URLs.
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+):([^/\s@]+)@/gi, '$1$2:[REDACTED]@'],
  // Cookie headers carry sessions.
  [/\b(cookie|set-cookie)(\s*:\s*)[^\n]+/gi, '$1$2[REDACTED]'],
  // Common provider key shapes.
  [/\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}\b/g, '[REDACTED-KEY]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, '[REDACTED-KEY]'],
  [/\bxox[abpr]-[A-Za-z0-9-]{10,}\b/g, '[REDACTED-KEY]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[REDACTED-KEY]'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, '[REDACTED-KEY]'],
];

/** Replaces bearer tokens, JWTs, credential query values and similar secrets with `[REDACTED…]` markers. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/** `redact` for optional values. */
export function redactOpt(text: string | undefined): string | undefined {
  return text === undefined ? undefined : redact(text);
}
