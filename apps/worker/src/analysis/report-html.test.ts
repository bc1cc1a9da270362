import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderReportMarkdown } from './report.ts';
import type { CycleReport } from './report-schema.ts';

const golden = JSON.parse(readFileSync(new URL('./fixtures/golden/report-cycle-2.json', import.meta.url), 'utf8')) as CycleReport;

describe('report.md shows HTML from tests as text', () => {
  it('escapes tags in cluster titles, flaky messages, category names and service details; code spans stay literal', () => {
    const r = structuredClone(golden);
    const cluster = r.clusters[0];
    if (!cluster) throw new Error('golden report has no cluster');
    cluster.title = 'GET /x <img src=x onerror=alert(1)>';
    r.flaky = [{ ...(r.flaky[0] ?? { id: 't <b>', fingerprint: null, history: null }), message: '<script>alert(2)</script>' } as CycleReport['flaky'][number]];
    if (r.categories[0]) r.categories[0].name = '<iframe src=//evil>';
    if (r.services[0]) r.services[0].detail = '<a href=javascript:alert(3)>x</a>';
    const md = renderReportMarkdown(r);
    for (const tag of ['<img src=x', '<script>', '<iframe', '<a href=javascript']) expect(md).not.toContain(tag);
    expect(md).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(md).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(md).toContain('&lt;iframe src=//evil&gt;');
    expect(md).toContain('&lt;a href=javascript:alert(3)&gt;x&lt;/a&gt;');
  });
});
