/**
 * The dashboard's HTML and stylesheet. Static: no data and no secrets; the script (client.ts) asks for a
 * token and fills the page through the API. No inline script or style, so the page's CSP can stay 'self';
 * the libraries (markdown-it, DOMPurify, Chart.js) are served from node_modules by vendor.ts.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>greenloop dashboard</title>
<link rel="icon" href="/dashboard/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/vendor/markdown-it.js" defer></script>
<script src="/dashboard/vendor/purify.js" defer></script>
<script src="/dashboard/vendor/chart.js" defer></script>
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>greenloop</h1>
  <nav id="tabs" class="tabs" hidden>
    <button type="button" data-view="loops">Loops</button>
    <button type="button" data-view="clusters">Clusters</button>
    <button type="button" data-view="flaky">Flaky tests</button>
    <button type="button" data-view="trends">Trends</button>
    <button type="button" data-view="schedules">Schedules</button>
  </nav>
  <span id="status" class="status" role="status" aria-live="polite"></span>
  <span id="who" class="who" hidden></span>
  <button id="refresh" type="button" hidden>Refresh</button>
  <button id="logout" type="button" hidden>Sign out</button>
</header>
<div id="error" class="error" role="alert" hidden></div>
<div id="action" class="action" role="status" aria-live="polite" hidden></div>
<main>
  <section id="login" class="panel login" hidden>
    <h2>Sign in with an API token</h2>
    <p>Paste a greenloop API token. Viewers can read everything; operators can also start and cancel loops. It stays in this browser tab only (sessionStorage).</p>
    <form id="login-form" method="post" action="#" autocomplete="off">
      <label for="token">Token</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Sign in</button>
    </form>
    <p id="login-message" class="login-message"></p>
  </section>

  <section id="view-loops" class="view" hidden>
    <section class="panel">
      <h2>Loops <small>newest first</small></h2>
      <form id="start-form" class="actions" hidden>
        <label for="start-env">Start a loop on</label>
        <select id="start-env"></select>
        <button id="start-loop" type="submit">Start loop</button>
      </form>
      <table class="loops">
        <thead><tr><th>Started</th><th>Environment</th><th>State</th><th>Started by</th><th>Cycles</th><th>Latest tests</th><th>AI spend</th><th>Stop reason</th></tr></thead>
        <tbody id="loops"></tbody>
      </table>
      <p id="loops-empty" class="muted" hidden>No loops yet.</p>
      <button id="loops-more" type="button" hidden>Show older loops</button>
    </section>
    <section id="loop-panel" class="panel" hidden>
      <div class="panel-head">
        <h2 id="loop-title"></h2>
        <button id="cancel-loop" type="button" class="danger" hidden>Cancel loop</button>
      </div>
      <dl id="loop-facts" class="facts"></dl>
      <div id="loop-stop" class="stop" hidden></div>
      <ul id="loop-notices" class="notices" hidden></ul>
      <h3>Timeline <small>where the time goes, per cycle and stage</small></h3>
      <div id="timeline" class="timeline"></div>
      <h3>Cycles</h3>
      <table class="cycles">
        <thead><tr><th>#</th><th>Tests (passed / failed / skipped)</th><th>Stages</th><th>Commit</th><th>AI spend</th><th>Report</th></tr></thead>
        <tbody id="cycles"></tbody>
      </table>
      <p id="cycles-empty" class="muted" hidden>No finished cycle yet.</p>
      <section id="report-panel" class="report" hidden>
        <div class="panel-head">
          <h3 id="report-title"></h3>
          <button id="report-close" type="button">Close report</button>
        </div>
        <div id="evidence" class="evidence"></div>
        <article id="report" class="markdown"></article>
        <section id="evidence-panel" hidden>
          <div class="panel-head">
            <h4 id="evidence-title"></h4>
            <button id="evidence-close" type="button">Close file</button>
          </div>
          <pre id="evidence-text"></pre>
        </section>
      </section>
      <h3>Events <span id="stream-state" class="muted"></span></h3>
      <ol id="events" class="events"></ol>
    </section>
  </section>

  <section id="view-clusters" class="view panel" hidden>
    <h2>Failure clusters across loops</h2>
    <div class="filters"><label for="clusters-env">Environment</label> <select id="clusters-env" class="env-filter"></select> <span id="clusters-window" class="muted"></span></div>
    <table class="clusters">
      <thead><tr><th>Cluster</th><th>Environments</th><th>First seen</th><th>Last seen</th><th>Cycles failing</th><th>Fixed by</th><th>Regressed</th><th>State</th></tr></thead>
      <tbody id="clusters"></tbody>
    </table>
    <p id="clusters-empty" class="muted" hidden>No failure cluster in these loops.</p>
  </section>

  <section id="view-flaky" class="view panel" hidden>
    <h2>Flaky tests</h2>
    <div class="filters"><label for="flaky-env">Environment</label> <select id="flaky-env" class="env-filter"></select> <span id="flaky-window" class="muted"></span></div>
    <table class="flaky">
      <thead><tr><th>Test</th><th>Environments</th><th>Fail rate</th><th>Flaked / failed / cycles</th><th>Last seen</th><th>Quarantined</th></tr></thead>
      <tbody id="flaky"></tbody>
    </table>
    <p id="flaky-empty" class="muted" hidden>No flaky test in these loops.</p>
    <p class="muted">Quarantined: known flaky (flaked in 2 or more cycles, at least 30% of its failures) — a failure on its only rerun still counts as flaky, and it is never sent to a fixer.</p>
  </section>

  <section id="view-trends" class="view panel" hidden>
    <h2>Trends</h2>
    <div class="filters">
      <label for="trends-env">Environment</label> <select id="trends-env" class="env-filter"></select>
      <label for="trends-trigger">Loops</label>
      <select id="trends-trigger"><option value="">all</option><option value="schedule">scheduled (nightly)</option><option value="api">started over the API</option></select>
      <label for="trends-n">last</label>
      <select id="trends-n"><option>10</option><option selected>30</option><option>100</option></select>
    </div>
    <div class="charts">
      <figure><figcaption>Pass rate per loop (%): its first cycle (dashed: how it stood) and its last (where the loop left it)</figcaption><div class="chart"><canvas id="chart-pass" role="img" aria-label="Pass rate per loop"></canvas></div></figure>
      <figure><figcaption>Cycles to green (loops that went green)</figcaption><div class="chart"><canvas id="chart-cycles" role="img" aria-label="Cycles to green per loop"></canvas></div></figure>
    </div>
    <table class="trends">
      <thead><tr><th>Environment</th><th>Loops</th><th>Went green</th><th>Median cycles to green</th><th>Latest pass rate</th></tr></thead>
      <tbody id="trends"></tbody>
    </table>
    <p id="trends-empty" class="muted" hidden>No finished loop yet.</p>
  </section>

  <section id="view-schedules" class="view panel" hidden>
    <h2>Schedules</h2>
    <table class="schedules">
      <thead><tr><th>Environment</th><th>Name</th><th>Cron</th><th>Time zone</th><th>Next runs</th><th>From</th></tr></thead>
      <tbody id="schedules"></tbody>
    </table>
    <p id="schedules-empty" class="muted" hidden>No schedule.</p>
  </section>
</main>
</body>
</html>
`;

/** A green loop: the tab icon (without one the browser asks for /favicon.ico and logs a 404). */
export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="none" stroke="#1a7f37" stroke-width="3"/></svg>
`;

export const DASHBOARD_CSS = `:root {
  --fg: #1d2330; --muted: #667085; --line: #d9dee7; --bg: #f6f7f9; --panel: #fff;
  --green: #1a7f37; --red: #cf222e; --amber: #9a6700; --blue: #0969da; --grey: #6e7781;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
.top { display: flex; gap: 12px; align-items: baseline; padding: 12px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
.top h1 { margin: 0; font-size: 20px; }
.sub, .muted, small { color: var(--muted); font-weight: normal; }
td .project { color: var(--muted); }
.status { margin-left: auto; color: var(--muted); }
main { padding: 16px 20px; display: grid; gap: 16px; max-width: 1400px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
h2 { margin: 0 0 8px; font-size: 17px; }
h3 { margin: 16px 0 6px; font-size: 15px; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { border-color: var(--blue); }
.error { margin: 12px 20px 0; padding: 8px 12px; border: 1px solid var(--red); border-radius: 6px; background: #ffebe9; color: var(--red); }
.action { margin: 12px 20px 0; padding: 8px 12px; border: 1px solid var(--blue); border-radius: 6px; background: #ddf4ff; }
.login { max-width: 520px; }
.login form { display: flex; gap: 8px; align-items: center; }
.login input { flex: 1; font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; }
.login-message { color: var(--red); }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
.loops tbody tr { cursor: pointer; }
.loops tbody tr:hover, .loops tbody tr.selected { background: #eef4ff; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; font-weight: 600; color: #fff; background: var(--grey); }
.badge.green { background: var(--green); }
.badge.running { background: var(--blue); }
.badge.queued { background: var(--grey); }
.badge.stopped { background: var(--amber); }
.badge.failed { background: var(--red); }
.badge.cancelled { background: var(--grey); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.stop { margin-top: 10px; padding: 8px 12px; border-left: 4px solid var(--amber); background: #fff8c5; }
.stop.green { border-color: var(--green); background: #dafbe1; }
.notices { margin: 8px 0 0; padding-left: 20px; color: var(--amber); }
.bar { display: flex; width: 100%; min-width: 220px; height: 14px; border-radius: 3px; overflow: hidden; background: #eaeef2; }
.bar span { display: block; height: 100%; }
.bar .passed { background: var(--green); }
.bar .failed { background: var(--red); }
.bar .skipped { background: #afb8c1; }
.bar-label { font-size: 13px; color: var(--muted); }
.stages { display: flex; flex-wrap: wrap; gap: 4px; }
.stage { font-size: 12px; padding: 0 6px; border-radius: 3px; border: 1px solid var(--line); }
.stage.succeeded { border-color: var(--green); color: var(--green); }
.stage.failed { border-color: var(--red); color: var(--red); }
.stage.running { border-color: var(--blue); color: var(--blue); }
.stage.cancelled, .stage.skipped { color: var(--muted); }
.report pre, .events, #evidence-text { max-height: 420px; overflow: auto; background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 8px 12px; }
.report pre, #evidence-text { white-space: pre-wrap; word-break: break-word; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
.events { list-style: none; margin: 0; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
.events li { padding: 1px 0; }
.events .type { font-weight: 600; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
.tabs { display: flex; gap: 4px; margin-left: 16px; }
.tabs button.active { background: var(--fg); color: #fff; border-color: var(--fg); }
.who { color: var(--muted); }
.who .role { font-weight: 600; color: var(--fg); }
.view { display: grid; gap: 16px; }
.view[hidden] { display: none; }
.panel-head { display: flex; gap: 12px; align-items: baseline; justify-content: space-between; }
.actions, .filters { display: flex; gap: 8px; align-items: center; margin: 0 0 10px; flex-wrap: wrap; }
select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button.danger { border-color: var(--red); color: var(--red); }
button.primary, #start-loop { border-color: var(--blue); color: #fff; background: var(--blue); }
.timeline { display: grid; grid-template-columns: 90px 1fr; gap: 4px 8px; align-items: center; }
.timeline .row-label { font-size: 13px; color: var(--muted); }
.timeline .track { position: relative; height: 22px; background: #f6f8fa; border-radius: 3px; }
.timeline .seg { position: absolute; top: 2px; height: 18px; border-radius: 2px; font-size: 11px; line-height: 18px; color: #fff; overflow: hidden; white-space: nowrap; padding: 0 3px; min-width: 2px; }
.timeline .seg.deploy { background: #8250df; }
.timeline .seg.test { background: #0969da; }
.timeline .seg.analyze { background: #bf8700; }
.timeline .seg.fix { background: #cf222e; }
.timeline .seg.integrate { background: #1a7f37; }
.timeline .seg.running { opacity: 0.6; }
.timeline .axis { position: relative; height: 16px; font-size: 11px; color: var(--muted); }
.timeline .tick { position: absolute; top: 0; }
.legend { display: flex; gap: 10px; font-size: 12px; color: var(--muted); grid-column: 2; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: -1px; background: var(--grey); }
.legend .deploy::before { background: #8250df; }
.legend .test::before { background: #0969da; }
.legend .analyze::before { background: #bf8700; }
.legend .fix::before { background: #cf222e; }
.legend .integrate::before { background: #1a7f37; }
.markdown { margin-top: 8px; padding: 8px 16px; border: 1px solid var(--line); border-radius: 4px; max-height: 640px; overflow: auto; }
.markdown table { width: auto; margin: 8px 0; }
.markdown pre { background: #f6f8fa; padding: 8px; overflow: auto; }
.markdown code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; word-break: break-all; }
.evidence { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.evidence button { font-size: 13px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 16px; }
.charts figure { margin: 0; }
.charts figcaption { font-size: 13px; color: var(--muted); margin-bottom: 4px; }
.chart { position: relative; height: 260px; }
.tag { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; border: 1px solid var(--line); }
.tag.open, .tag.yes { border-color: var(--red); color: var(--red); }
.tag.fixed { border-color: var(--green); color: var(--green); }
.fp { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--muted); }
`;
