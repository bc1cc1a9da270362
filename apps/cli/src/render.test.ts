import { expect, test } from 'vitest';
import { painter, progressLine, renderMarkdown, stripAnsi, table } from './render.ts';

const plain = painter(false);

test('markdown renders readably without colors', () => {
  const md = '# Cycle 1\n\n**PASSED**: 8\n\n| test | status |\n|---|---|\n| `a.test` | failed |\n| b | passed |\n\n- one\n  - two\n\n```\ncode here\n```\n';
  expect(renderMarkdown(plain, md)).toBe(
    ['Cycle 1', '', 'PASSED: 8', '', '  test    status', '  a.test  failed', '  b       passed', '', '  • one', '    • two', '', '    code here'].join('\n'),
  );
});

test('tables align on visible width even with colors', () => {
  const colored = painter(true);
  const out = table(colored, ['A', 'B'], [[colored.red('xx'), 'y']]);
  expect(stripAnsi(out)).toBe('A   B\nxx  y');
});

test('progress lines carry the clock, cycle, stage and counts', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const line = progressLine(
    plain,
    {
      type: 'cycle.finished',
      loopId: 'l',
      cycle: 2,
      time: '2026-01-01T00:01:05Z',
      message: 'x',
      data: { green: false, totals: { total: 5, passed: 3, failed: 2, skipped: 0, durationMs: 1 } },
    },
    start,
  );
  expect(line).toBe('[01:05] cycle 2  not green  3 passed, 2 failed of 5');
});
