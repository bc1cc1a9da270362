/**
 * The dashboard's HTML and stylesheet. Static: no data and no secrets; the script (client.ts) asks for a
 * token and fills the page through the API. No inline script or style, so the page's CSP can stay 'self'.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>greenloop dashboard</title>
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>greenloop</h1>
  <span class="sub">loops, read-only</span>
  <span id="status" class="status" role="status" aria-live="polite"></span>
  <button id="refresh" type="button" hidden>Refresh</button>
  <button id="logout" type="button" hidden>Forget token</button>
</header>
<div id="error" class="error" role="alert" hidden></div>
<main>
  <section id="login" class="panel login" hidden>
    <h2>API token</h2>
    <p>Paste a greenloop API token (viewer role is enough). It stays in this browser tab only (sessionStorage).</p>
    <form id="login-form" method="post" action="#" autocomplete="off">
      <label for="token">Token</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Open dashboard</button>
    </form>
    <p id="login-message" class="login-message"></p>
  </section>
  <section id="loops-panel" class="panel" hidden>
    <h2>Loops <small>newest first</small></h2>
    <table class="loops">
      <thead><tr><th>Started</th><th>Environment</th><th>State</th><th>Started by</th><th>Cycles</th><th>Latest tests</th><th>Stop reason</th></tr></thead>
      <tbody id="loops"></tbody>
    </table>
    <p id="loops-empty" class="muted" hidden>No loops yet.</p>
    <button id="loops-more" type="button" hidden>Show older loops</button>
  </section>
  <section id="loop-panel" class="panel" hidden>
    <h2 id="loop-title"></h2>
    <dl id="loop-facts" class="facts"></dl>
    <div id="loop-stop" class="stop" hidden></div>
    <ul id="loop-notices" class="notices" hidden></ul>
    <h3>Cycles</h3>
    <table class="cycles">
      <thead><tr><th>#</th><th>Tests (passed / failed / skipped)</th><th>Stages</th><th>Commit</th><th>Report</th></tr></thead>
      <tbody id="cycles"></tbody>
    </table>
    <p id="cycles-empty" class="muted" hidden>No finished cycle yet.</p>
    <section id="report-panel" class="report" hidden>
      <h3 id="report-title"></h3>
      <button id="report-close" type="button">Close report</button>
      <pre id="report"></pre>
    </section>
    <h3>Events <span id="stream-state" class="muted"></span></h3>
    <ol id="events" class="events"></ol>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `:root {
  --fg: #1d2330; --muted: #667085; --line: #d9dee7; --bg: #f6f7f9; --panel: #fff;
  --green: #1a7f37; --red: #cf222e; --amber: #9a6700; --blue: #0969da; --grey: #6e7781;
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
.top { display: flex; gap: 12px; align-items: baseline; padding: 12px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
.top h1 { margin: 0; font-size: 20px; }
.sub, .muted, small { color: var(--muted); font-weight: normal; }
.status { margin-left: auto; color: var(--muted); }
main { padding: 16px 20px; display: grid; gap: 16px; max-width: 1400px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
h2 { margin: 0 0 8px; font-size: 17px; }
h3 { margin: 16px 0 6px; font-size: 15px; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { border-color: var(--blue); }
.error { margin: 12px 20px 0; padding: 8px 12px; border: 1px solid var(--red); border-radius: 6px; background: #ffebe9; color: var(--red); }
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
.report pre, .events { max-height: 420px; overflow: auto; background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 8px 12px; }
.report pre { white-space: pre-wrap; word-break: break-word; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
.events { list-style: none; margin: 0; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
.events li { padding: 1px 0; }
.events .type { font-weight: 600; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
`;
