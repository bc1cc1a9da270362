import { describe, expect, it } from 'vitest';
import { readLeadingTime, readLogTime } from './log-time.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const REF = Date.parse('2026-12-02T15:00:00Z');

describe('readLogTime', () => {
  it.each([
    // epoch numbers: the unit follows from the magnitude
    ['epoch seconds (Python time.time())', 1796215811.69, '2026-12-02T12:50:11.690Z', false],
    ['epoch seconds, integer', 1796215811, '2026-12-02T12:50:11.000Z', false],
    ['epoch ms (pino, Date.now())', 1796215811690, '2026-12-02T12:50:11.690Z', false],
    ['epoch µs', 1796215811690123, '2026-12-02T12:50:11.690Z', false],
    ['epoch ns (a JS number loses the last digits)', 1796215811690123500, '2026-12-02T12:50:11.690Z', false],
    // numeric strings
    ['seconds as a string', '1796215811.69', '2026-12-02T12:50:11.690Z', false],
    ['ms as a string', '1796215811690', '2026-12-02T12:50:11.690Z', false],
    ['µs as a string', '1796215811690123', '2026-12-02T12:50:11.690Z', false],
    ['ns as a string (precision kept)', '1796215811690123456', '2026-12-02T12:50:11.690Z', false],
    // text
    ['RFC 3339 Z', '2026-12-02T12:50:11.690Z', '2026-12-02T12:50:11.690Z', false],
    ['RFC 3339 nanoseconds and offset (Go slog)', '2026-12-02T13:50:11.690123456+01:00', '2026-12-02T12:50:11.690Z', false],
    ['ISO offset without colon', '2026-12-02T07:50:11-0500', '2026-12-02T12:50:11.000Z', false],
    ['ISO without zone → UTC, said so', '2026-12-02T12:50:11.690', '2026-12-02T12:50:11.690Z', true],
    ['Python logging asctime', '2026-12-02 12:50:11,690', '2026-12-02T12:50:11.690Z', true],
    ['Go log', '2026/12/02 12:50:11', '2026-12-02T12:50:11.000Z', true],
    ['Go log with microseconds', '2026/12/02 12:50:11.690150', '2026-12-02T12:50:11.690Z', true],
    ['syslog (year from the reference)', 'Dec  2 12:50:11', '2026-12-02T12:50:11.000Z', true],
    ['common log format', '02/Dec/2026:13:50:11 +0100', '2026-12-02T12:50:11.000Z', false],
    ['RFC 2822 with GMT', 'Wed, 02 Dec 2026 12:50:11 GMT', '2026-12-02T12:50:11.000Z', false],
    ['Cloud Logging {seconds, nanos}', { seconds: 1796215811, nanos: 690000000 }, '2026-12-02T12:50:11.690Z', false],
  ])('%s', (_name, value, expected, zoneAssumed) => {
    const t = readLogTime(value, REF);
    expect(iso(t?.ms)).toBe(expected);
    expect(t?.zoneAssumed === true).toBe(zoneAssumed);
  });

  it.each([
    ['a duration in ms', 42],
    ['zero', 0],
    ['a port', '8080'],
    ['a word', 'yesterday'],
    ['a date with trailing words', '2026-12-02 12:50:11 hello'],
    ['a far-future number', 9e20],
  ])('is undefined for %s', (_name, value) => {
    expect(readLogTime(value, REF)).toBeUndefined();
  });

  it('puts a December syslog line read in January in the previous year', () => {
    expect(iso(readLogTime('Dec 31 23:59:59', Date.parse('2027-01-01T00:00:30Z'))?.ms)).toBe('2026-12-31T23:59:59.000Z');
  });
});

describe('readLeadingTime', () => {
  it('says how much of the line the time took', () => {
    const line = '2026-12-02 12:50:11,690 ERROR app: boom';
    const t = readLeadingTime(line, REF);
    expect(line.slice(t?.length)).toBe(' ERROR app: boom');
  });
});
