/**
 * Refreshes the README's dashboard screenshots (docs/screenshots/dashboard-*.png) from a running
 * greenloop: `npm run demo -- --keep`, start a loop or two more (POST /v1/loops), then
 * `node scripts/dashboard-screenshots.ts <dashboard base URL> <token>`. Uses Debian's chromium through
 * playwright-core, like the dashboard's browser tests.
 */
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node scripts/dashboard-screenshots.ts <base URL, e.g. http://127.0.0.1:7700> <API token>');
  process.exit(2);
}
const out = resolve(import.meta.dirname, '../docs/screenshots');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(`${base}/dashboard`);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#loops tr');
  await page.screenshot({ path: join(out, 'dashboard-loops.png') });
  // The oldest loop on the page, its timeline and cycles (the events list left out).
  await page.locator('#loops tr').last().click();
  await page.waitForSelector('#timeline .seg');
  const panel = await page.locator('#loop-panel').boundingBox();
  const events = await page.locator('#events').boundingBox();
  if (!panel || !events) throw new Error('the loop panel is not shown');
  await page.setViewportSize({ width: 1280, height: Math.ceil(panel.y + panel.height) + 20 });
  await page.screenshot({
    path: join(out, 'dashboard-loop-timeline.png'),
    clip: { x: panel.x, y: panel.y, width: panel.width, height: events.y - panel.y - 30 },
  });
  await page.setViewportSize({ width: 1280, height: 760 });
  await page.click('#cycles button.report-link[data-cycle="1"]');
  await page.waitForSelector('#evidence button');
  await page.locator('#report-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(out, 'dashboard-report.png') });
  for (const view of ['clusters', 'trends', 'schedules']) {
    await page.click(`#tabs button[data-view="${view}"]`);
    await page.waitForSelector(`#${view} tr, #${view}-empty:not([hidden])`);
    await page.screenshot({ path: join(out, `dashboard-${view}.png`) });
  }
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
}
