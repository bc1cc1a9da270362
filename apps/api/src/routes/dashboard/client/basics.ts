/** Dashboard script, part: State and small helpers: element building (text only), formatting of times, durations, totals and AI spend. See client.ts. */
export const BASICS_JS = String.raw`  var TOKEN_KEY = 'greenloop.token';
  var RETRY_MS = 5000;
  var LIST_POLL_MS = 15000;
  var LIST_PAGE = 50;
  var TERMINAL = ['green', 'stopped', 'failed', 'cancelled'];
  var STAGES = ['deploy', 'test', 'analyze', 'fix', 'integrate'];
  var VIEWS = ['loops', 'clusters', 'flaky', 'trends', 'schedules'];

  var state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    session: null,
    view: 'loops',
    selected: null,
    loop: null,
    stream: null,
    listTimer: null,
    retryTimer: null,
    refreshTimer: null,
    listPages: 1,
    charts: [],
  };

  function $(id) { return document.getElementById(id); }

  /** A new element with text content and optional class; never parses HTML. */
  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  /** A table cell for an environment: a project's "<project>/" (of "<project>/<environment>") set apart before it. */
  function envCell(name) {
    var td = el('td');
    var text = String(name || '');
    var slash = text.indexOf('/');
    if (slash > 0) td.appendChild(el('span', text.slice(0, slash + 1), 'project'));
    td.appendChild(document.createTextNode(text.slice(slash + 1)));
    return td;
  }

  function setStatus(text) { $('status').textContent = text || ''; }

  function showError(text) {
    var box = $('error');
    box.textContent = text || '';
    box.hidden = !text;
  }

  /** What the last start or cancel did; stays until the next action (the status line is for refreshes). */
  function showAction(text) {
    var box = $('action');
    box.textContent = text || '';
    box.hidden = !text;
  }

  function fmtTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function fmtMs(ms) {
    if (!(ms >= 0)) return '';
    if (ms < 1000) return Math.round(ms) + 'ms';
    var s = Math.round(ms / 100) / 10;
    if (s < 60) return s + 's';
    s = Math.round(s);
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
  }

  function fmtDuration(fromIso, toIso) {
    if (!fromIso) return '';
    return fmtMs((toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso));
  }

  function pct(x) { return typeof x === 'number' ? Math.round(x * 1000) / 10 + '%' : '—'; }

  function totalsText(t) {
    if (!t || typeof t.total !== 'number') return '—';
    var p = t.total > 0 ? Math.round((100 * (t.passed || 0)) / t.total) : 0;
    return p + '% passed (' + (t.passed || 0) + ' passed, ' + (t.failed || 0) + ' failed' + (t.skipped ? ', ' + t.skipped + ' skipped' : '') + ' of ' + t.total + ')';
  }

  // The words of core's formatSpend (the one spend formatter; this script cannot import it), '' when none:
  // "$0.42, 12,345 input + 2,345 output tokens".
  function spendText(s) {
    if (!s || typeof s !== 'object') return '';
    var parts = [];
    if (typeof s.usd === 'number') parts.push(s.usd === 0 ? '$0.00' : s.usd >= 0.01 ? '$' + s.usd.toFixed(2) : '$' + s.usd.toPrecision(2));
    if (typeof s.inputTokens === 'number' || typeof s.outputTokens === 'number') {
      parts.push((s.inputTokens || 0).toLocaleString('en-US') + ' input + ' + (s.outputTokens || 0).toLocaleString('en-US') + ' output tokens');
    }
    return parts.join(', ');
  }

  function loopLink(loopId, text) {
    var a = el('a', text || loopId);
    a.href = '#loop=' + encodeURIComponent(loopId);
    return a;
  }

`;
