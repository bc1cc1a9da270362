/**
 * The one redactor: applied wherever bytes leave a process on their way to a person or an agent (reports,
 * dossiers, prompts, events, API views, logs, Slack, webhooks, fixer reasons). Test output and server logs
 * routinely carry credentials, and an AI fixer or a viewer-role token must never see them.
 *
 * Two layers: the literal values of every secret greenloop knows (its own env and every `*Env` variable
 * greenloop.yaml names), and shape rules for credentials it cannot know.
 */

/** Shortest value kept as a known secret: shorter ones would redact ordinary words. */
export const MIN_KNOWN_SECRET_LENGTH = 8;

const R = '[redacted]';

/** A double quote as it may appear after escaping: raw, backslash-escaped (up to 3), or as an (escaped) entity. */
const Q = String.raw`\\{0,3}(?:"|&(?:amp;)*quot;)`;
const SECRET_FIELD = 'token|password|passwd|secret|api_?key|private_?key|authorization|cookie|credentials?';

interface Rule {
  /** Cheap lowercase substring that must occur for the rule to possibly match; skips the regex otherwise. */
  hint?: readonly string[];
  re: RegExp;
  to: string;
}

// Order matters: whole blocks and URLs before the key=value rule, which would otherwise cut them up.
// Repeats around a literal are bounded ({0,64}, …): unbounded ones went quadratic on long words (measured).
const RULES: readonly Rule[] = [
  // PEM private keys, complete or cut off by a tail (raw newlines or JSON-escaped "\n").
  {
    hint: ['-----begin'],
    re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)/g,
    to: '[redacted-pem]',
  },
  // Incoming-webhook URLs are bearer credentials: Slack, Discord, Teams (Office connectors and workflows).
  {
    hint: ['hooks.slack', 'discord', 'webhook.office', 'logic.azure'],
    re: /https?:\/\/(?:hooks\.slack(?:-gov)?\.com|(?:canary\.|ptb\.)?discord(?:app)?\.com\/api\/webhooks|[a-z0-9-]+\.webhook\.office\.com|[a-z0-9.-]+\.logic\.azure\.com)[^\s<>"'|`]*/gi,
    to: '[redacted-url]',
  },
  // user:password@ in any URL (redis://:pw@host, https://u:p@host).
  { hint: ['://'], re: /\b([a-z][a-z0-9+.-]{0,30}:\/\/)([^/\s:@]{0,256}):([^/\s@]{1,512})@/gi, to: `$1$2:${R}@` },
  // JSON Web Tokens: three base64url parts, the first a JSON header (`eyJ`).
  { hint: ['eyj'], re: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, to: '[redacted-jwt]' },
  // Authorization headers in any casing, with or without a scheme.
  {
    hint: ['authorization'],
    re: /\b((?:proxy-)?authorization)(["']?\s*[:=]\s*["']?)(?:(bearer|basic|token|digest)\s+)?[^\s"',;)]+/gi,
    to: `$1$2$3 ${R}`,
  },
  { hint: ['bearer', 'basic'], re: /\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*/gi, to: `$1 ${R}` },
  // Cookies carry sessions: the whole header value goes.
  { hint: ['cookie'], re: /\b((?:set-)?cookie)(\s*:\s*)[^\n]+/gi, to: `$1$2${R}` },
  // Provider key shapes.
  { hint: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'], re: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, to: '[redacted-key]' },
  { hint: ['glpat-'], re: /\bglpat-[A-Za-z0-9_-]{20,}/g, to: '[redacted-key]' },
  { hint: ['sk-', 'sk_', 'rk_', 'pk_'], re: /\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,})/g, to: '[redacted-key]' },
  { hint: ['xox'], re: /\bxox[abposr]-[A-Za-z0-9-]{8,}/g, to: '[redacted-key]' },
  { hint: ['aiza'], re: /\bAIza[0-9A-Za-z_-]{30,}/g, to: '[redacted-key]' },
  { hint: ['akia', 'asia'], re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, to: '[redacted-key]' },
  // JSON fields with secret-looking names ("private_key": "…", "access_token": "…"), escapes included.
  {
    hint: ['token', 'pass', 'secret', 'key', 'authorization', 'cookie', 'credential'],
    re: /("[A-Za-z0-9_-]{0,64}(?:token|password|passwd|secret|api_?key|private_?key|authorization|cookie|credentials?)"\s*:\s*")((?:[^"\\]|\\.){0,8192})(")/gi,
    to: `$1${R}$3`,
  },
  // The same fields however their quotes were escaped on the way: JSON in a JSON string (\"), XML/HTML
  // entities (&quot;, twice-escaped &amp;quot;), or both (a JUnit message quoted into a cluster file).
  {
    hint: ['\\"', '&quot;', '&amp;'],
    re: new RegExp(`(${Q}[A-Za-z0-9_-]{0,64}(?:${SECRET_FIELD})${Q}\\s*:\\s*${Q})(.{0,8192}?)(${Q})`, 'gi'),
    to: `$1${R}$3`,
  },
  // key=value / key: value pairs whose key names a credential (AWS_SECRET_ACCESS_KEY=…, ?token=…, password: …).
  {
    hint: ['token', 'secret', 'pass', 'pwd', 'key', 'sig'],
    re: /\b([A-Za-z0-9_.-]{0,64}(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|private[_-]?key|access[_-]?key|signature|sig))(["']?[ \t]*[=:][ \t]*["']?)(?!\[redacted)[^\s"'&,;)<>]+/gi,
    to: `$1$2${R}`,
  },
];

// Secrets known by value, longest first so one that contains another is removed whole.
let known: string[] = [];

/**
 * Adds literal secret values to redact wherever they appear (values shorter than
 * MIN_KNOWN_SECRET_LENGTH are ignored). Process-wide on purpose: every boundary uses the same set
 * without threading it through; fed once at start-up from greenloop's env and greenloop.yaml's `*Env`s.
 */
export function addKnownSecrets(values: Iterable<unknown>): void {
  const set = new Set(known);
  const before = set.size;
  for (const v of values) {
    if (typeof v !== 'string' || v.length < MIN_KNOWN_SECRET_LENGTH) continue;
    set.add(v);
    // The same value as it appears in URLs and form bodies.
    const encoded = encodeURIComponent(v);
    if (encoded !== v) set.add(encoded);
  }
  // Called on every config load: nothing new, nothing to rebuild.
  if (set.size !== before) known = [...set].sort((a, b) => b.length - a.length);
}

/** Forgets every known secret (tests). */
export function clearKnownSecrets(): void {
  known = [];
}

/** How many literal values are redacted (for start-up logs and tests). */
export function knownSecretCount(): number {
  return known.length;
}

/** Replaces known secret values and credential shapes with `[redacted…]` markers. */
export function redact(text: string): string {
  let out = text;
  for (const v of known) if (out.includes(v)) out = out.split(v).join('[redacted-secret]');
  let lower: string | undefined;
  for (const rule of RULES) {
    if (rule.hint) {
      lower ??= out.toLowerCase();
      const l = lower;
      if (!rule.hint.some((h) => l.includes(h))) continue;
    }
    const next = out.replace(rule.re, rule.to);
    if (next !== out) {
      out = next;
      lower = undefined;
    }
  }
  return out;
}

/** `redact` for optional values. */
export function redactOpt(text: string | undefined): string | undefined {
  return text === undefined ? undefined : redact(text);
}

/**
 * JSON text with every string value redacted, still valid JSON. Text-level rules could cut through
 * quotes (a cookie rule runs to the end of the line), so a document that needs it is parsed and
 * rebuilt; one that needs nothing (the common case) is returned as is after one scan.
 */
export function redactJson(json: string): string {
  if (redact(json) === json) return json;
  return JSON.stringify(redactDeep(JSON.parse(json) as unknown));
}

/** A copy of a JSON-like value with every string (keys excepted) redacted. */
export function redactDeep<T>(value: T): T {
  return walk(value) as T;
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(walk);
  // Errors as loggers print them; their message and stack often quote the text that failed.
  if (value instanceof Error) return { type: value.name, message: redact(value.message), ...(value.stack ? { stack: redact(value.stack) } : {}) };
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v);
    return out;
  }
  return value;
}

/**
 * The literal secret values greenloop's own process knows: the bootstrap token, the token secret, the
 * Redis password (from REDIS_URL or REDIS_PASSWORD), and the values of the variables greenloop.yaml names
 * in `*Env` fields.
 */
export function secretValuesOf(processEnv: Readonly<Record<string, unknown>>, extraNames: Iterable<string> = [], redisUrl?: string): unknown[] {
  const out: unknown[] = [
    processEnv.GREENLOOP_API_TOKEN,
    processEnv.GREENLOOP_TOKEN,
    processEnv.GREENLOOP_TOKEN_SECRET,
    processEnv.REDIS_PASSWORD,
    urlPassword(processEnv.REDIS_URL),
    urlPassword(redisUrl),
  ];
  for (const name of extraNames) out.push(processEnv[name]);
  return out.filter((v) => typeof v === 'string' && v.length > 0);
}

function urlPassword(url: unknown): string | undefined {
  if (typeof url !== 'string' || !url) return undefined;
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The variable names a greenloop.yaml names as secrets, in every environment: the value of each `…Env`
 * key at any depth (loop.push.tokenEnv, notifications.slack.webhookUrlEnv / botTokenEnv,
 * notifications.webhook.urlEnv / secretEnv, pullRequest.tokenEnv, and any added later). A fixer's
 * passEnv may name none of them, whichever environment names it.
 */
export function configSecretNames(config: { environments: Record<string, unknown> }): string[] {
  const names = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (/Env$/.test(k) && typeof x === 'string') names.add(x);
        else walk(x);
      }
    }
  };
  walk(config.environments);
  return [...names].sort();
}

/**
 * Names of the variables whose values the redactor removes: {@link configSecretNames}, and what
 * `fixer.passEnv` hands a fixer (a credential it needs, a model API key: no output may show it back).
 */
export function secretEnvNames(config: { environments: Record<string, { fixer?: { passEnv: readonly string[] }; [key: string]: unknown }> }): string[] {
  const names = new Set(configSecretNames(config));
  for (const e of Object.values(config.environments)) for (const name of e.fixer?.passEnv ?? []) names.add(name);
  return [...names];
}
