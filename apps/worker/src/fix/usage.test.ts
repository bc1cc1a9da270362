import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseUsageFile, parseUsageText, readFixerUsage } from './usage.ts';

const sample = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'usage', name), 'utf8');

describe('fixer usage parsing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'greenloop-usage-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads Claude Code --output-format json: total_cost_usd, and every input token (cache reads and writes included)', () => {
    expect(parseUsageText(sample('claude-json.txt'))).toEqual({
      source: 'claude',
      spend: { usd: 0.1873215, inputTokens: 18 + 12811 + 98542, outputTokens: 1461 },
    });
  });

  it('reads the result line of Claude Code --output-format stream-json, not the per-message usage before it', () => {
    expect(parseUsageText(sample('claude-stream.jsonl'))).toEqual({
      source: 'claude',
      spend: { usd: 0.0412, inputTokens: 10 + 5520 + 5210, outputTokens: 249 },
    });
  });

  it('reads the JSON array Claude Code prints with --verbose', () => {
    const array = `[${sample('claude-stream.jsonl').trim().split('\n').join(',')}]`;
    expect(parseUsageText(array).spend).toEqual({ usd: 0.0412, inputTokens: 10740, outputTokens: 249 });
  });

  it('sums the turn.completed usage of Codex exec --json (cached input is part of input_tokens)', () => {
    expect(parseUsageText(sample('codex-exec.jsonl'))).toEqual({ source: 'codex', spend: { inputTokens: 24763 + 3100, outputTokens: 122 + 40 } });
  });

  it("reads Aider's usage lines: tokens summed over messages, dollars from the last session figure", () => {
    expect(parseUsageText(sample('aider.txt'))).toEqual({ source: 'aider', spend: { usd: 0.07, inputTokens: 4800 + 12000, outputTokens: 197 + 1100 } });
    // Older Aider printed exact counts with thousands separators, and colours its output on a terminal.
    expect(parseUsageText('\u001b[0;33mTokens: 1,234 sent, 56 received. Cost: $0.0042 message, $0.0042 session.\u001b[0m\n').spend).toEqual({
      usd: 0.0042,
      inputTokens: 1234,
      outputTokens: 56,
    });
  });

  it('records no spend, with a note that quotes nothing of the output, for garbled usage', () => {
    const secret = 'sk-ant-api03-THISISNOTAREALKEYBUTLOOKSLIKEONE';
    const cases = [
      `{"type":"result","total_cost_usd":0.18,"result":"${secret}","usage":{"input_tok`,
      `{"type":"turn.completed","usage":{"input_tokens":${secret}}}\n`,
      `{"type":"result","subtype":"success","result":"${secret}"}`,
    ];
    for (const text of cases) {
      const r = parseUsageText(text);
      expect(r.spend, text).toBeUndefined();
      expect(r.note, text).toMatch(/no spend recorded/);
      expect(r.note).not.toContain(secret);
    }
    // A line that merely looks like Claude's does not hide another agent's usage.
    expect(parseUsageText(`echo '{"type":"result"'\n${sample('aider.txt')}`).source).toBe('aider');
    // Output with no usage at all is not an error: nothing is recorded and nothing is said.
    expect(parseUsageText('edited src/routes.js\n')).toEqual({});
    expect(parseUsageText('')).toEqual({});
    expect(parseUsageText('\u0000\u0001garbage{{{[[[')).toEqual({});
  });

  it('reads the {{usageFile}} contract and refuses anything else', () => {
    expect(parseUsageFile('{"usd": 0.5, "inputTokens": 1000, "outputTokens": 20}')).toEqual({
      source: 'usage-file',
      spend: { usd: 0.5, inputTokens: 1000, outputTokens: 20 },
    });
    expect(parseUsageFile('{"usd": 0.5}').spend).toEqual({ usd: 0.5 });
    expect(parseUsageFile(undefined).note).toContain('wrote no usage file');
    expect(parseUsageFile('not json').note).toContain('not JSON');
    expect(parseUsageFile('{"usd": -1}').note).toContain('non-negative');
    expect(parseUsageFile('{"inputTokens": 1.5}').note).toContain('whole numbers');
    expect(parseUsageFile('{"dollars": 3}').spend).toBeUndefined();
    expect(parseUsageFile('{}').spend).toBeUndefined();
    expect(parseUsageFile(`{"usd": 1, "pad": "${'x'.repeat(70_000)}"}`).note).toContain('over 64 KB');
  });

  it('prefers the usage file, falls back to the output, and prices tokens with fixer.pricePerMillionTokens', async () => {
    const stdout = join(dir, 'stdout.log');
    const stderr = join(dir, 'stderr.log');
    const usageFile = join(dir, 'usage.json');
    writeFileSync(stdout, sample('codex-exec.jsonl'));
    writeFileSync(stderr, '');
    const price = { input: 1.25, output: 10 };
    // No usage file written: the note says so, and the Codex tokens are priced.
    const codex = await readFixerUsage({ usageFile, stdoutFile: stdout, stderrFile: stderr, price });
    expect(codex.source).toBe('codex');
    expect(codex.spend).toEqual({ inputTokens: 27863, outputTokens: 162, usd: (27863 * 1.25 + 162 * 10) / 1e6 });
    expect(codex.note).toContain('wrote no usage file');
    writeFileSync(usageFile, '{"usd": 0.3, "inputTokens": 10, "outputTokens": 2}');
    expect(await readFixerUsage({ usageFile, stdoutFile: stdout, stderrFile: stderr, price })).toEqual({
      source: 'usage-file',
      spend: { usd: 0.3, inputTokens: 10, outputTokens: 2 },
    });
    // Aider writes to stderr in some set-ups; files that do not exist read as empty.
    writeFileSync(stdout, 'nothing here\n');
    writeFileSync(stderr, sample('aider.txt'));
    expect((await readFixerUsage({ stdoutFile: stdout, stderrFile: stderr })).source).toBe('aider');
    expect(await readFixerUsage({ stdoutFile: join(dir, 'missing'), stderrFile: join(dir, 'missing2') })).toEqual({});
  });
});
