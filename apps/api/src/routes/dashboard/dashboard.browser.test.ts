import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createConfigLoader, formatSpend, readAudit, syncSchedulesFromConfig } from '@greenloop/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HOSTILE, LOOPS, REPORTED, STDOUT_TEXT, TEST_IDS, writeDashboardData } from '../../test-support/dashboard-data.ts';
import { setupTestApi, type TestApi } from '../../testing.ts';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against the real API on
 * loopback, with records written through the real store. Each view is kept as a screenshot under
 * test-output/dashboard/ (CI keeps it as an artifact).
 */

const CHROMIUM = process.env.GREENLOOP_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve(import.meta.dirname, '../../../../../test-output/dashboard');

let t: TestApi;
let base: string;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set GREENLOOP_CHROMIUM`);
  mkdirSync(SHOTS, { recursive: true });
  t = await setupTestApi();
  await writeDashboardData(t.store, t.home);
  // What the worker does at start-up: the schedules greenloop.yaml declares (staging's nightly).
  await syncSchedulesFromConfig(t.queues, await createConfigLoader(t.repo)());
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.on('response', (r) => {
    if (r.status() === 404) problems.push(`404: ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[13]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.cleanup();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function signIn(role: 'viewer' | 'operator'): Promise<void> {
  await page.fill('#token', t.token[role]);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#who:not([hidden])');
}

/** The browser never ran injected code: no flag set, no element made from a test name. */
async function expectNoInjection(): Promise<void> {
  // Browser-side code as strings: this project's TypeScript has no DOM types.
  expect(await page.evaluate('typeof window.__xss')).toBe('undefined');
  expect(await page.locator('main img, main script, main iframe').count()).toBe(0);
}

describe('the dashboard in a real browser', { timeout: 60_000 }, () => {
  test('login asks for a token, refuses a bad one and says which role a good one has', async () => {
    await page.goto(`${base}/dashboard`);
    await page.waitForSelector('#login:not([hidden])');
    await shot('01-login');
    await page.fill('#token', 'glt_0000000000000000_not-a-real-token');
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.textContent('#login-message')).toContain('refused');
    await signIn('viewer');
    expect(await page.textContent('#who')).toBe('Signed in as test-viewer · viewer');
    // A viewer is not offered what the API would refuse.
    expect(await page.isHidden('#start-form')).toBe(true);
  });

  test('the loop list shows every loop with its state, tests and AI spend', async () => {
    await page.waitForSelector('#loops tr');
    const rows = page.locator('#loops tr');
    expect(await rows.count()).toBe(LOOPS.length);
    const a = page.locator('#loops tr[data-id="nightly-a-0001"]');
    expect(await a.textContent()).toContain('$1.84');
    expect(await a.textContent()).toContain('nightly (schedule)');
    const b = page.locator('#loops tr[data-id="nightly-b-0002"]');
    // The stop message quotes a hostile cluster title: it is text.
    expect(await b.textContent()).toContain(HOSTILE.img);
    await expectNoInjection();
    await shot('02-loops');
  });

  test('the timeline draws each stage of each cycle on one time axis, to scale', async () => {
    await page.click('#loops tr[data-id="nightly-a-0001"]');
    await page.waitForSelector('#timeline .seg');
    const spec = LOOPS[0];
    const stages = spec?.cycles.reduce((n, c) => n + Object.keys(c.seconds).length, 0);
    expect(await page.locator('#timeline .seg').count()).toBe(stages);
    // Cycle 1: deploy took 20 s and the fixers 90 s; the bars' widths keep that ratio.
    const widths = await page
      .locator('#timeline .track')
      .first()
      .locator('.seg')
      .evaluateAll((segs) => segs.map((s) => [s.getAttribute('data-stage'), s.getBoundingClientRect().width] as const));
    const w = Object.fromEntries(widths) as Record<string, number>;
    expect((w.fix as number) / (w.deploy as number)).toBeCloseTo(90 / 20, 1);
    expect((w.test as number) / (w.deploy as number)).toBeCloseTo(60 / 20, 1);
    // The loop's facts include its AI spend; a finished loop offers no cancel.
    // In the words of core's one spend formatter.
    expect(await page.textContent('#loop-facts')).toContain(formatSpend(LOOPS[0]?.spend));
    expect(formatSpend(LOOPS[0]?.spend)).toBe('$1.84, 120,000 input + 9,500 output tokens');
    expect(await page.isHidden('#cancel-loop')).toBe(true);
    // Live events and notices quote test names too: text, never markup.
    await expect.poll(() => page.textContent('#events')).toContain(`failing: ${TEST_IDS.broken}`);
    expect(await page.textContent('#loop-notices')).toContain(TEST_IDS.flaky);
    await expectNoInjection();
    await page.locator('#loop-panel').screenshot({ path: join(SHOTS, '03-loop-timeline.png') });
  });

  test('a report is rendered from markdown, sanitized, with hostile test names as text and evidence files linked', async () => {
    await page.click(`#cycles button.report-link[data-cycle="${REPORTED.cycle}"]`);
    await page.waitForSelector('#report h1');
    expect(await page.textContent('#report h1')).toBe('Cycle 1 of nightly-a-0001 on staging');
    expect(await page.locator('#report table tr').count()).toBe(3);
    expect(await page.locator('#report li').count()).toBe(3);
    const text = (await page.textContent('#report')) ?? '';
    expect(text).toContain(TEST_IDS.broken);
    expect(text).toContain(HOSTILE.script);
    // javascript: links lose their target; http(s) links open apart, without the referrer.
    expect(await page.locator('#report a[href^="javascript"]').count()).toBe(0);
    expect(await page.getAttribute('#report a[href^="https:"]', 'rel')).toBe('noopener noreferrer');
    await expectNoInjection();
    await page.waitForSelector('#evidence button.evidence-link');
    expect(await page.locator('#evidence button.evidence-link').allTextContents()).toEqual([
      'report.json',
      'test stdout',
      'test stderr',
      'JUnit junit.xml',
      `dossier Route missing: POST /api/agents/start → 404 ${HOSTILE.img}`,
    ]);
    await page.click('#evidence button.evidence-link:text-is("test stdout")');
    await expect.poll(() => page.textContent('#evidence-text')).toBe(STDOUT_TEXT);
    await expectNoInjection();
    await page.locator('#report-panel').screenshot({ path: join(SHOTS, '04-report.png') });
  });

  test('clusters across loops show first seen, fixes, regressions, and filter by environment', async () => {
    await page.click('#tabs button[data-view="clusters"]');
    await page.waitForSelector('#clusters tr');
    const rows = page.locator('#clusters tr');
    expect(await rows.count()).toBe(3);
    const first = (await rows.first().textContent()) ?? '';
    expect(first).toContain(HOSTILE.img);
    expect(first).toContain('f1f1f1f1f1');
    expect(first).toContain('1×');
    expect(first).toContain('open');
    await expectNoInjection();
    await shot('05-clusters');
    await page.selectOption('#clusters-env', 'production');
    await page.waitForSelector('#clusters-empty:not([hidden])');
    expect(await rows.count()).toBe(0);
    await page.selectOption('#clusters-env', 'staging');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.locator('td:last-child').allTextContents()).toEqual(['open', 'fixed', 'no longer failing']);
  });

  test('flaky tests show fail rate, last seen and whether quarantined', async () => {
    await page.click('#tabs button[data-view="flaky"]');
    await page.waitForSelector('#flaky tr');
    const cells = await page.locator('#flaky tr').first().locator('td').allTextContents();
    expect(cells[0]).toBe(TEST_IDS.flaky);
    expect(cells[2]).toBe('60%');
    expect(cells[3]).toBe('3 / 0 / 5');
    expect(cells[5]).toBe('yes');
    expect(await page.locator('#flaky tr').nth(1).locator('td').last().textContent()).toBe('no');
    await expectNoInjection();
    await shot('06-flaky');
  });

  test('trends are charted (Chart.js) per environment: pass rate and cycles to green', async () => {
    await page.click('#tabs button[data-view="trends"]');
    await page.waitForSelector('#trends tr');
    const charted = (await page.evaluate(`(() => {
      const read = (id) => Chart.getChart(document.getElementById(id))?.data.datasets.map((d) => [d.label, d.data]);
      return { pass: read('chart-pass'), cycles: read('chart-cycles') };
    })()`)) as { pass: unknown; cycles: unknown };
    // Loops in time order: nightly-a, nightly-b (staging), manual-c (production).
    expect(charted.pass).toEqual([
      ['production · first cycle', [null, null, 100]],
      ['staging · first cycle', [70, 90, null]],
      ['production · last cycle', [null, null, 100]],
      ['staging · last cycle', [100, 80, null]],
    ]);
    expect(charted.cycles).toEqual([
      ['production', [null, null, 1]],
      ['staging', [3, null, null]],
    ]);
    // And the canvas has been drawn on.
    const inked = await page.evaluate(`(() => {
      const c = document.getElementById('chart-pass');
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })()`);
    expect(inked).toBeGreaterThan(1000);
    expect(await page.locator('#trends tr').first().locator('td').allTextContents()).toEqual(['production', '1', '100%', '1', '100%']);
    await shot('07-trends');
  });

  test('schedules show their next runs', async () => {
    await page.click('#tabs button[data-view="schedules"]');
    await page.waitForSelector('#schedules tr');
    const cells = await page.locator('#schedules tr').first().locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(['staging', 'nightly', '0 3 * * *', 'Europe/Berlin']);
    expect(await page.locator('#schedules tr').first().locator('td').nth(4).locator('div').count()).toBeGreaterThanOrEqual(1);
    await shot('08-schedules');
  });

  test('the API refuses a viewer who tries to start a loop anyway', async () => {
    const status = await page.evaluate(async (token) => {
      const res = await fetch('/v1/loops', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: '{"environment":"staging"}',
      });
      return res.status;
    }, t.token.viewer);
    expect(status).toBe(403);
  });

  test('an operator starts a loop and cancels it', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    await signIn('operator');
    expect(await page.textContent('#who')).toBe('Signed in as test-operator · operator');
    await page.click('#tabs button[data-view="loops"]');
    await page.waitForSelector('#start-form:not([hidden])');
    await page.selectOption('#start-env', 'staging');
    await page.click('#start-loop');
    await page.waitForURL(/#loop=/);
    await page.waitForSelector('#action:not([hidden])');
    expect(await page.textContent('#action')).toMatch(/^Started loop [a-z0-9-]+ on staging\.$/);
    const id = new URL(page.url()).hash.slice('#loop='.length);
    expect((await t.store.getLoop(id))?.environment).toBe('staging');
    await page.waitForSelector(`#loops tr[data-id="${id}"]`);
    await page.waitForSelector('#cancel-loop:not([hidden])');
    await shot('09-operator');
    await page.click('#cancel-loop');
    await expect.poll(() => page.textContent('#action')).toContain(`Cancel requested for loop ${id}`);
    expect(await t.store.isCancelRequested(id)).toBe(true);
    const audit = await readAudit(t.store.redis, t.store.prefix, { limit: 10 });
    expect(audit.entries.filter((e) => e.target === id).map((e) => [e.action, e.actor.name])).toEqual([
      ['loop.cancel', 'test-operator'],
      ['loop.start', 'test-operator'],
    ]);
  });

  test("a project loop's environment shows its project apart from the environment", async () => {
    const source = { project: 'shop', remote: '/srv/git/shop.git', baseBranch: 'main' };
    await t.store.createLoop({
      id: 'project-loop-0001',
      environment: 'shop/staging',
      source,
      state: 'running',
      createdAt: new Date().toISOString(),
      startedBy: { kind: 'api', name: 'test-operator' },
      cycle: 1,
    });
    await page.click('#refresh');
    const cell = page.locator('#loops tr[data-id="project-loop-0001"] td').nth(1);
    await cell.waitFor();
    expect(await cell.textContent()).toBe('shop/staging');
    expect(await cell.locator('span.project').textContent()).toBe('shop/');
    // A short name has no project part.
    expect(await page.locator('#loops tr[data-id="nightly-a-0001"] td').nth(1).locator('span.project').count()).toBe(0);
  });

  test('nothing broke the page: no script error, no CSP violation', () => {
    expect(problems).toEqual([]);
  });
});
