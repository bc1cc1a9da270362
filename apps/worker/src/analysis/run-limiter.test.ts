import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseJUnitString } from './junit-parser.ts';
import { RunLimiter, takeDropped } from './run-limiter.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

function filter(text: string, size: number, head: number, tail: number): string {
  const l = new RunLimiter(head, tail);
  let out = '';
  for (let i = 0; i < text.length; i += size) out += l.push(text.slice(i, i + size));
  return out + l.end();
}

describe('RunLimiter', () => {
  it('passes every fixture through unchanged, whatever the chunking', () => {
    for (const dir of ['junit', 'golden']) {
      for (const name of readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith('.xml'))) {
        const xml = readFileSync(join(FIXTURES, dir, name), 'utf8');
        for (const size of [1, 7, 64, 4096]) expect(filter(xml, size, 64 * 1024, 64 * 1024), `${name} in chunks of ${size}`).toBe(xml);
      }
    }
  });

  it('cuts long text and CDATA runs to head and tail, counting what it dropped', () => {
    const xml = `<a><b>${'x'.repeat(100)}</b><c><![CDATA[${'y'.repeat(100)}]]></c></a>`;
    const out = filter(xml, 13, 10, 5);
    const { text, dropped } = takeDropped(out);
    expect(text).toBe(`<a><b>${'x'.repeat(15)}</b><c><![CDATA[${'y'.repeat(15)}]]></c></a>`);
    expect(dropped).toBe(170);
  });

  it('never splits an entity or a surrogate pair, and the result still parses', () => {
    const body = `${'a'.repeat(8)}&amp;&lt;😀${'b'.repeat(40)}&quot;😀&#65;zz`;
    const xml = `<testsuite><testcase name="t"><system-out>${body}</system-out></testcase></testsuite>`;
    const outputs = new Set<string>();
    for (let size = 1; size <= 20; size++) outputs.add(filter(xml, size, 12, 9));
    expect(outputs.size).toBe(1);
    const [out] = [...outputs] as [string];
    const { tests } = parseJUnitString(out, 'cut.xml');
    // The head stops before "&amp;" rather than inside it; the tail starts on a whole character.
    expect(tests[0]?.systemOut).toMatch(/^aaaaaaaa\n… \[\d+ characters omitted\] …\n😀Azz$/);
    // 66 characters of body as written; 8 kept at the head, 9 at the tail ("😀&#65;zz").
    expect(takeDropped(out).dropped).toBe(body.length - 8 - 9);
  });

  it('keeps the line count, so errors after a cut run still name the right line', () => {
    const xml = `<testsuite>\n<testcase name="t"><system-out>${'line\n'.repeat(1000)}</system-out></testcase>\n<testcase name="u" time=1/>\n</testsuite>`;
    const cut = filter(xml, 100, 64, 64);
    expect(cut.length).toBeLessThan(xml.length / 2);
    expect(() => parseJUnitString(xml, 'x.xml')).toThrow(/x\.xml:1003:/);
    // parseJUnitString runs the same limiter internally; the cut text alone reports the same line.
    expect(() => parseJUnitString(cut, 'x.xml')).toThrow(/x\.xml:1003:/);
  });

  it('does not treat ">" inside a quoted attribute as the end of a tag', () => {
    const xml = `<a m="x > y">${'z'.repeat(30)}</a>`;
    expect(takeDropped(filter(xml, 3, 5, 5)).text).toBe(`<a m="x > y">${'z'.repeat(10)}</a>`);
  });
});
