/**
 * Reading the time of a log entry in whatever shape the service wrote it: epoch seconds / ms / µs / ns
 * (number or numeric string, unit decided by magnitude), RFC 3339 / ISO 8601 with or without a zone,
 * Python `logging` (`2026-12-02 13:49:42,326`), Go `log` (`2026/12/02 13:49:42.123456`), syslog
 * (`Dec  2 13:49:42`), Apache/nginx common log format (`02/Dec/2026:13:49:42 +0000`) and Python
 * `http.server` (`02/Dec/2026 13:49:42`), Cloud Logging's `{seconds, nanos}` and log4j2's `{epochSecond, nanoOfSecond}`.
 */

/** A time read from a log. */
export interface LogTime {
  /** Milliseconds since the epoch. */
  ms: number;
  /**
   * The text named no zone (Python logging, Go log, syslog, ISO without `Z`/offset): it was read as UTC.
   * Services that log local time on a host not set to UTC will be off by the host's offset.
   */
  zoneAssumed?: true;
}

// Times outside this range are not timestamps (a duration, a counter, a port): reading them as one would
// put the entry in 1970 or 2500 and silently out of every test window.
const MIN_MS = Date.UTC(2000, 0, 1);
const MAX_MS = Date.UTC(2100, 0, 1);

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

function plausible(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_MS && ms < MAX_MS;
}

/**
 * An epoch number in any unit: seconds (~1.8e9 today), milliseconds (~1.8e12), microseconds (~1.8e15) or
 * nanoseconds (~1.8e18). The boundaries sit three orders of magnitude apart, so each unit's range for the
 * years 2000–2100 lies wholly inside its band.
 */
export function epochToMs(n: number): number | undefined {
  const a = Math.abs(n);
  const ms = a < 1e11 ? n * 1000 : a < 1e14 ? n : a < 1e17 ? n / 1e3 : n / 1e6;
  return plausible(ms) ? ms : undefined;
}

// A numeric string keeps its precision: ns as a JS number loses the last digits, so split on the magnitude.
function epochStringToMs(s: string): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m?.[1]) return undefined;
  const whole = m[1].replace(/^0+(?=\d)/, '');
  if (whole.length >= 16) {
    // µs (16 digits) or ns (19 digits): keep ms precision from the leading digits.
    const scale = whole.length >= 18 ? 6 : 3;
    const head = whole.slice(0, whole.length - scale);
    const tail = whole.slice(whole.length - scale);
    const ms = Number(head) + Number(`0.${tail}`);
    return plausible(ms) ? ms : undefined;
  }
  return epochToMs(Number(s));
}

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string | undefined): number {
  const fracMs = frac ? Number(`0.${frac}`) * 1000 : 0;
  return Date.UTC(y, mo, d, h, mi, s) + fracMs;
}

function offsetMs(zone: string): number {
  if (zone === 'Z' || zone === 'z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!m) return 0;
  const sign = m[1] === '-' ? -1 : 1;
  return sign * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
}

/** `2026-12-02T13:49:42.326Z`, `2026-12-02 13:49:42,326`, `2026/12/02 13:49:42.123456`, with an optional zone. */
const ISO_LIKE = /^(\d{4})[-/](\d{2})[-/](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:\s?(Z|z|[+-]\d{2}:?\d{2}|[+-]\d{2}(?!\d)))?/;
/** `Dec  2 13:49:42` (syslog; no year). */
const SYSLOG = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/;
/** `02/Dec/2026:13:49:42 +0000` (common log format) and `02/Dec/2026 13:49:42` (Python http.server). */
const CLF = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4})[: ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ([+-]\d{4}))?/;

/** A time at the start of `text`, with how many characters it took. */
export function readLeadingTime(text: string, referenceMs: number = Date.now()): (LogTime & { length: number }) | undefined {
  const iso = ISO_LIKE.exec(text);
  if (iso?.[4] !== undefined) {
    const [all, y, mo, d, h, mi, s, frac, zone] = iso;
    let ms = utc(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), frac);
    if (zone) ms -= offsetMs(zone);
    if (!plausible(ms)) return undefined;
    return { ms, length: all.length, ...(zone ? {} : { zoneAssumed: true as const }) };
  }
  const clf = CLF.exec(text);
  if (clf) {
    const [all, d, mon, y, h, mi, s, frac, zone] = clf;
    const mo = MONTHS[(mon ?? '').toLowerCase()];
    if (mo === undefined) return undefined;
    let ms = utc(Number(y), mo, Number(d), Number(h), Number(mi), Number(s), frac);
    if (zone) ms -= offsetMs(zone);
    if (!plausible(ms)) return undefined;
    return { ms, length: all.length, ...(zone ? {} : { zoneAssumed: true as const }) };
  }
  const sys = SYSLOG.exec(text);
  if (sys) {
    const [all, mon, d, h, mi, s, frac] = sys;
    const mo = MONTHS[(mon ?? '').toLowerCase()];
    if (mo === undefined) return undefined;
    // syslog has no year: the reference year, or the one before when that would put the line in the future
    // (a December line read in January).
    const year = new Date(referenceMs).getUTCFullYear();
    let ms = utc(year, mo, Number(d), Number(h), Number(mi), Number(s), frac);
    if (ms > referenceMs + 86_400_000) ms = utc(year - 1, mo, Number(d), Number(h), Number(mi), Number(s), frac);
    return { ms, length: all.length, zoneAssumed: true };
  }
  return undefined;
}

/**
 * The time a JSON log field holds: an epoch number or numeric string in any unit, any of the text shapes
 * above, or Cloud Logging's `{seconds, nanos}`. Undefined when it is none of these.
 */
export function readLogTime(value: unknown, referenceMs: number = Date.now()): LogTime | undefined {
  if (typeof value === 'number') {
    const ms = epochToMs(value);
    return ms === undefined ? undefined : { ms };
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+(?:\.\d+)?$/.test(text)) {
      const ms = epochStringToMs(text);
      return ms === undefined ? undefined : { ms };
    }
    const lead = readLeadingTime(text, referenceMs);
    if (lead && text.slice(lead.length).trim() === '') return lead.zoneAssumed ? { ms: lead.ms, zoneAssumed: true } : { ms: lead.ms };
    // Anything else JavaScript reads unambiguously (RFC 2822 with a zone, e.g. "Wed, 02 Dec 2026 13:49:42 GMT").
    if (/(?:GMT|UTC|Z|[+-]\d{4})$/.test(text)) {
      const ms = Date.parse(text);
      if (plausible(ms)) return { ms };
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    // Cloud Logging's {seconds, nanos}; log4j2's JsonLayout `instant` {epochSecond, nanoOfSecond}.
    const seconds = v.seconds ?? v.epochSecond;
    if (seconds === undefined) return undefined;
    const ms = Number(seconds) * 1000 + Number(v.nanos ?? v.nanoOfSecond ?? 0) / 1e6;
    return plausible(ms) ? { ms } : undefined;
  }
  return undefined;
}
