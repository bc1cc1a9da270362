/**
 * The dashboard's script, served as-is (no build step). Vanilla JS for current browsers. Every value from
 * the API reaches the DOM through textContent or attributes set by code, never as HTML — with one
 * exception: a cycle report's markdown, rendered by markdown-it (raw HTML off) and then sanitized by
 * DOMPurify into a DOM fragment (no HTML string is ever assigned to the page). The token lives in
 * sessionStorage and only ever travels in the Authorization header.
 *
 * Kept in String.raw so the JS source is byte for byte what is written here; it must not contain backticks.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'greenloop.token';
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

  /** AI spend as recorded on a loop or cycle: "$1.23 · 12,000 in / 3,400 out tokens"; '' when absent. */
  function spendText(s) {
    if (!s || typeof s !== 'object') return '';
    var parts = [];
    if (typeof s.usd === 'number') parts.push('$' + s.usd.toFixed(2));
    var tokens = [];
    if (typeof s.inputTokens === 'number') tokens.push(s.inputTokens.toLocaleString() + ' in');
    if (typeof s.outputTokens === 'number') tokens.push(s.outputTokens.toLocaleString() + ' out');
    if (tokens.length) parts.push(tokens.join(' / ') + ' tokens');
    return parts.join(' · ');
  }

  function loopLink(loopId, text) {
    var a = el('a', text || loopId);
    a.href = '#loop=' + encodeURIComponent(loopId);
    return a;
  }

  // ---- API access ------------------------------------------------------------------------------------

  function AuthError(message) { this.name = 'AuthError'; this.message = message; }
  AuthError.prototype = Object.create(Error.prototype);
  function NetworkError(message) { this.name = 'NetworkError'; this.message = message; }
  NetworkError.prototype = Object.create(Error.prototype);

  /** fetch with the token; 401 → AuthError, network failure → NetworkError, other errors → Error(message). */
  function api(path, accept, signal, method, body, extraHeaders) {
    var headers = { Authorization: 'Bearer ' + state.token, Accept: accept || 'application/json' };
    if (extraHeaders) Object.keys(extraHeaders).forEach(function (k) { headers[k] = extraHeaders[k]; });
    var init = { method: method || 'GET', headers: headers, cache: 'no-store', credentials: 'omit', signal: signal };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(
      function (res) {
        if (res.status === 401) throw new AuthError('The token was refused (missing, invalid, expired or revoked). Enter it again.');
        if (res.ok) return res;
        return res.text().then(function (text) {
          var msg = 'HTTP ' + res.status;
          try {
            var e = JSON.parse(text);
            if (e && e.message) msg += ' ' + (e.code ? e.code + ': ' : '') + e.message + (e.hint ? ' (' + e.hint + ')' : '');
          } catch (_) {
            /* not JSON: keep the status only */
          }
          var err = new Error(msg);
          err.status = res.status;
          throw err;
        });
      },
      function (err) {
        if (err && err.name === 'AbortError') throw err;
        throw new NetworkError('Cannot reach the API (' + (err && err.message ? err.message : 'network error') + ').');
      },
    );
  }

  function apiJson(path) { return api(path, 'application/json').then(function (r) { return r.json(); }); }

  /** Central error handling: 401 asks for the token again, network errors retry. */
  function handleError(err, retry) {
    if (err && err.name === 'AbortError') return;
    if (err instanceof AuthError) {
      askToken(err.message);
      return;
    }
    if (err instanceof NetworkError) {
      showError(err.message + ' Retrying in ' + RETRY_MS / 1000 + 's…');
      if (retry) {
        clearTimeout(state.retryTimer);
        state.retryTimer = setTimeout(retry, RETRY_MS);
      }
      return;
    }
    showError(err && err.message ? err.message : String(err));
  }

  // ---- sign in -----------------------------------------------------------------------------------------

  function askToken(message) {
    stopStream();
    clearInterval(state.listTimer);
    clearTimeout(state.retryTimer);
    state.token = '';
    state.session = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('login').hidden = false;
    VIEWS.forEach(function (v) { $('view-' + v).hidden = true; });
    ['tabs', 'who', 'refresh', 'logout'].forEach(function (id) { $(id).hidden = true; });
    showError('');
    showAction('');
    setStatus('');
    $('login-message').textContent = message || '';
    $('token').value = '';
    $('token').focus();
  }

  /** Asks the API who the token is; then shows the views and the actions its role allows. */
  function start() {
    apiJson('/v1/session').then(
      function (session) {
        state.session = session;
        $('login').hidden = true;
        $('login-message').textContent = '';
        ['tabs', 'who', 'refresh', 'logout'].forEach(function (id) { $(id).hidden = false; });
        renderWho(session);
        renderEnvironmentChoices(session.environments || []);
        $('start-form').hidden = !(session.can && session.can.startLoop) || !(session.environments || []).length;
        if (session.configError) showAction('greenloop.yaml cannot be read, so no loop can be started: ' + session.configError);
        loadLoops();
        clearInterval(state.listTimer);
        state.listTimer = setInterval(function () { if (state.view === 'loops') loadLoops(); }, LIST_POLL_MS);
        routeFromHash();
      },
      function (err) { handleError(err, start); },
    );
  }

  function renderWho(session) {
    var who = $('who');
    clear(who);
    who.appendChild(document.createTextNode('Signed in as ' + session.name + ' · '));
    who.appendChild(el('span', session.role, 'role'));
    who.title = session.can && session.can.startLoop ? 'This role can start and cancel loops.' : 'This role can read; starting and cancelling loops needs the operator role.';
  }

  function renderEnvironmentChoices(envs) {
    var start = $('start-env');
    clear(start);
    envs.forEach(function (e) { var o = el('option', e); o.value = e; start.appendChild(o); });
    Array.prototype.forEach.call(document.querySelectorAll('select.env-filter'), function (sel) {
      clear(sel);
      var all = el('option', 'all');
      all.value = '';
      sel.appendChild(all);
      envs.forEach(function (e) { var o = el('option', e); o.value = e; sel.appendChild(o); });
    });
  }

  // ---- views -------------------------------------------------------------------------------------------

  function routeFromHash() {
    var h = location.hash;
    var loop = /^#loop=([a-z0-9-]{6,64})$/.exec(h);
    var view = /^#view=([a-z]+)$/.exec(h);
    if (loop) {
      showView('loops');
      if (loop[1] !== state.selected) selectLoop(loop[1]);
    } else if (view && VIEWS.indexOf(view[1]) >= 0) {
      showView(view[1]);
    } else {
      showView('loops');
    }
  }

  function showView(name) {
    state.view = name;
    VIEWS.forEach(function (v) { $('view-' + v).hidden = v !== name; });
    Array.prototype.forEach.call($('tabs').children, function (b) { b.className = b.dataset.view === name ? 'active' : ''; });
    if (name === 'clusters') loadClusters();
    else if (name === 'flaky') loadFlaky();
    else if (name === 'trends') loadTrends();
    else if (name === 'schedules') loadSchedules();
  }

  function refreshView() {
    if (state.view === 'loops') {
      loadLoops();
      loadLoop();
    } else showView(state.view);
  }

  // ---- loop list ---------------------------------------------------------------------------------------

  function badge(loopState) {
    return el('span', loopState, 'badge ' + (/^[a-z]+$/.test(loopState) ? loopState : ''));
  }

  // The newest LIST_PAGE loops, and as many older pages as "Show older loops" asked for; each refresh
  // follows the cursors again so the list stays one consistent, current picture.
  function loadLoops() {
    var all = [];
    function page(cursor, left) {
      return apiJson('/v1/loops?limit=' + LIST_PAGE + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (body) {
        all = all.concat(body.loops || []);
        if (left > 1 && body.nextCursor) return page(body.nextCursor, left - 1);
        return body.nextCursor;
      });
    }
    return page(null, state.listPages).then(function (more) {
      showError('');
      setStatus('Updated ' + new Date().toLocaleTimeString());
      renderLoops(all);
      $('loops-more').hidden = !more;
    }, function (err) { handleError(err, loadLoops); });
  }

  function renderLoops(loops) {
    var tbody = $('loops');
    clear(tbody);
    $('loops-empty').hidden = loops.length > 0;
    loops.forEach(function (l) {
      var tr = document.createElement('tr');
      tr.dataset.id = l.id;
      if (l.id === state.selected) tr.className = 'selected';
      tr.appendChild(el('td', fmtTime(l.startedAt || l.createdAt)));
      tr.appendChild(el('td', l.environment));
      var st = el('td');
      st.appendChild(badge(l.state));
      if (l.state === 'running' && l.stage) st.appendChild(el('span', ' ' + l.stage, 'muted'));
      tr.appendChild(st);
      tr.appendChild(el('td', l.startedBy ? l.startedBy.name + ' (' + l.startedBy.kind + ')' : ''));
      tr.appendChild(el('td', l.cycle));
      tr.appendChild(el('td', l.latest ? totalsText(l.latest) : '—'));
      tr.appendChild(el('td', spendText(l.spend) || '—'));
      tr.appendChild(el('td', l.stop ? l.stop.rule + ': ' + l.stop.message : ''));
      tbody.appendChild(tr);
    });
  }

  function startLoop(environment) {
    var key = 'dash-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
    $('start-loop').disabled = true;
    // With an idempotency key, so a retried request starts one loop, not two.
    return api('/v1/loops', 'application/json', undefined, 'POST', { environment: environment }, { 'Idempotency-Key': key })
      .then(function (r) { return r.json(); })
      .then(
        function (loop) {
          showError('');
          showAction('Started loop ' + loop.id + ' on ' + loop.environment + '.');
          location.hash = '#loop=' + loop.id;
          loadLoops();
        },
        function (err) { handleError(err, null); },
      )
      .then(function () { $('start-loop').disabled = false; });
  }

  function cancelSelected() {
    var id = state.selected;
    if (!id) return;
    $('cancel-loop').disabled = true;
    api('/v1/loops/' + encodeURIComponent(id) + '/cancel', 'application/json', undefined, 'POST')
      .then(
        function () {
          showError('');
          showAction('Cancel requested for loop ' + id + '; its running stages stop and it ends as cancelled.');
          loadLoop();
          loadLoops();
        },
        function (err) { handleError(err, null); },
      )
      .then(function () { $('cancel-loop').disabled = false; });
  }

  // ---- one loop ----------------------------------------------------------------------------------------

  function selectLoop(id) {
    if (state.selected !== id) {
      stopStream();
      clear($('events'));
      $('report-panel').hidden = true;
    }
    state.selected = id;
    Array.prototype.forEach.call($('loops').children, function (tr) {
      tr.className = tr.dataset.id === id ? 'selected' : '';
    });
    $('loop-panel').hidden = false;
    loadLoop().then(function (loop) {
      if (loop && !state.stream) followEvents(id, '0');
    });
  }

  function loadLoop() {
    var id = state.selected;
    if (!id) return Promise.resolve(null);
    return apiJson('/v1/loops/' + encodeURIComponent(id)).then(
      function (loop) {
        if (state.selected !== id) return null;
        showError('');
        state.loop = loop;
        renderLoop(loop);
        return loop;
      },
      function (err) {
        handleError(err, loadLoop);
        return null;
      },
    );
  }

  /** Refreshes the loop view and the list, at most once per 300ms however many events arrive. */
  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(function () {
      loadLoop();
      loadLoops();
    }, 300);
  }

  function fact(dl, name, value) {
    if (value === undefined || value === null || value === '') return;
    dl.appendChild(el('dt', name));
    var dd = el('dd');
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = String(value);
    dl.appendChild(dd);
  }

  function renderLoop(loop) {
    var title = $('loop-title');
    clear(title);
    title.appendChild(document.createTextNode('Loop ' + loop.id + ' on ' + loop.environment + ' '));
    title.appendChild(badge(loop.state));
    var canCancel = !!(state.session && state.session.can && state.session.can.cancelLoop);
    $('cancel-loop').hidden = !canCancel || TERMINAL.indexOf(loop.state) >= 0;

    var dl = $('loop-facts');
    clear(dl);
    fact(dl, 'Started by', loop.startedBy ? loop.startedBy.name + ' (' + loop.startedBy.kind + ')' : '');
    fact(dl, 'Created', fmtTime(loop.createdAt));
    fact(dl, 'Started', fmtTime(loop.startedAt));
    fact(dl, 'Finished', fmtTime(loop.finishedAt));
    fact(dl, 'Duration', fmtDuration(loop.startedAt || loop.createdAt, loop.finishedAt));
    fact(dl, 'Cycle', loop.cycle + (loop.state === 'running' && loop.stage ? ' (stage ' + loop.stage + ')' : ''));
    fact(dl, 'Branch', loop.branch);
    fact(dl, 'Commit', loop.commit || loop.baseCommit);
    fact(dl, 'Latest tests', loop.latest ? totalsText(loop.latest) : '');
    fact(dl, 'AI spend', spendText(loop.spend));

    var stop = $('loop-stop');
    if (loop.stop) {
      stop.hidden = false;
      stop.className = 'stop' + (loop.stop.rule === 'green' ? ' green' : '');
      clear(stop);
      stop.appendChild(el('strong', 'Stopped: ' + loop.stop.rule));
      stop.appendChild(document.createTextNode(' — ' + loop.stop.message));
      if (loop.stop.clusters && loop.stop.clusters.length) stop.appendChild(el('div', 'Clusters: ' + loop.stop.clusters.join(', '), 'muted'));
    } else {
      stop.hidden = true;
    }

    var notices = $('loop-notices');
    clear(notices);
    (loop.notices || []).forEach(function (n) { notices.appendChild(el('li', n)); });
    notices.hidden = !(loop.notices && loop.notices.length);

    renderTimeline(loop);
    renderCycles(loop);
  }

  // ---- timeline: each cycle's stages as bars on one time axis -------------------------------------------

  function renderTimeline(loop) {
    var box = $('timeline');
    clear(box);
    var cycles = (loop.cycles || []).slice().sort(function (a, b) { return a.n - b.n; });
    var now = Date.now();
    var t0 = Infinity;
    var t1 = -Infinity;
    var rows = cycles.map(function (c) {
      var segs = STAGES.filter(function (s) { return c.stages && c.stages[s] && c.stages[s].startedAt; }).map(function (s) {
        var r = c.stages[s];
        var from = Date.parse(r.startedAt);
        var to = r.finishedAt ? Date.parse(r.finishedAt) : TERMINAL.indexOf(loop.state) >= 0 ? from : now;
        if (from < t0) t0 = from;
        if (to > t1) t1 = to;
        return { stage: s, from: from, to: to, status: r.status || '' };
      });
      return { n: c.n, segs: segs };
    });
    if (!(t1 > t0)) {
      box.appendChild(el('p', 'No stage has run yet.', 'muted'));
      return;
    }
    var span = t1 - t0;
    rows.forEach(function (row) {
      box.appendChild(el('div', 'Cycle ' + row.n, 'row-label'));
      var track = el('div', null, 'track');
      row.segs.forEach(function (s) {
        var seg = el('div', null, 'seg ' + s.stage + (s.status === 'running' ? ' running' : ''));
        seg.style.left = ((100 * (s.from - t0)) / span).toFixed(3) + '%';
        seg.style.width = ((100 * Math.max(0, s.to - s.from)) / span).toFixed(3) + '%';
        var label = s.stage + ' ' + fmtMs(s.to - s.from);
        seg.title = label + ' (' + s.status + ')';
        seg.dataset.stage = s.stage;
        if ((s.to - s.from) / span > 0.08) seg.textContent = label;
        track.appendChild(seg);
      });
      box.appendChild(track);
    });
    box.appendChild(el('div'));
    var axis = el('div', null, 'axis');
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var tick = el('span', '+' + fmtMs(f * span), 'tick');
      tick.style.left = f === 1 ? 'auto' : (100 * f).toFixed(1) + '%';
      if (f === 1) tick.style.right = '0';
      axis.appendChild(tick);
    });
    box.appendChild(axis);
    var legend = el('div', null, 'legend');
    STAGES.forEach(function (s) { legend.appendChild(el('span', s, s)); });
    box.appendChild(el('div'));
    box.appendChild(legend);
  }

  function bar(t) {
    var wrap = el('div');
    var b = el('div', null, 'bar');
    var total = t && t.total > 0 ? t.total : 0;
    ['passed', 'failed', 'skipped'].forEach(function (k) {
      var v = t && typeof t[k] === 'number' ? t[k] : 0;
      if (total > 0 && v > 0) {
        var s = el('span', null, k);
        s.style.width = ((100 * v) / total).toFixed(2) + '%';
        s.title = v + ' ' + k;
        b.appendChild(s);
      }
    });
    wrap.appendChild(b);
    wrap.appendChild(el('div', totalsText(t), 'bar-label'));
    return wrap;
  }

  function renderCycles(loop) {
    var tbody = $('cycles');
    clear(tbody);
    var cycles = (loop.cycles || []).slice().sort(function (a, b) { return a.n - b.n; });
    $('cycles-empty').hidden = cycles.length > 0;
    cycles.forEach(function (c) {
      var tr = document.createElement('tr');
      tr.appendChild(el('td', c.n + (c.green ? ' ✓' : '')));
      var tests = el('td');
      tests.appendChild(c.totals ? bar(c.totals) : el('span', 'no test results', 'muted'));
      tr.appendChild(tests);
      var st = el('td');
      var box = el('div', null, 'stages');
      var names = Object.keys(c.stages || {}).sort(function (a, b) { return STAGES.indexOf(a) - STAGES.indexOf(b); });
      names.forEach(function (name) {
        var s = c.stages[name];
        var status = s && s.status ? s.status : '';
        var chip = el('span', name + ': ' + status, 'stage ' + (/^[a-z]+$/.test(status) ? status : ''));
        var tip = [];
        if (s && s.summary) tip.push(s.summary);
        if (s && s.error) tip.push((s.error.code || 'error') + ': ' + (s.error.message || ''));
        if (tip.length) chip.title = tip.join('\n');
        box.appendChild(chip);
      });
      st.appendChild(box);
      tr.appendChild(st);
      tr.appendChild(el('td', c.commit ? c.commit.slice(0, 10) : ''));
      tr.appendChild(el('td', spendText(c.spend) || '—'));
      var rep = el('td');
      if (c.hasReport) {
        var btn = el('button', 'Report');
        btn.type = 'button';
        btn.dataset.cycle = String(c.n);
        btn.className = 'report-link';
        rep.appendChild(btn);
      } else {
        rep.appendChild(el('span', '—', 'muted'));
      }
      tr.appendChild(rep);
      tbody.appendChild(tr);
    });
  }

  // ---- report: markdown rendered, then sanitized, never assigned as an HTML string ------------------------

  var markdown = null;
  function renderMarkdown(text) {
    if (!window.markdownit || !window.DOMPurify) {
      var pre = el('pre', text);
      return pre;
    }
    // html: false — raw HTML in the markdown (a test name, a log line) is shown as text, not parsed.
    markdown = markdown || window.markdownit({ html: false, linkify: false, typographer: false });
    var fragment = window.DOMPurify.sanitize(markdown.render(text), {
      RETURN_DOM_FRAGMENT: true,
      FORBID_TAGS: ['style', 'img', 'form', 'input', 'iframe', 'svg', 'math'],
      FORBID_ATTR: ['style', 'srcset'],
    });
    // Links leave the page in a new tab, without the referrer; anything that is not http(s) is dropped.
    Array.prototype.forEach.call(fragment.querySelectorAll('a'), function (a) {
      var href = a.getAttribute('href') || '';
      if (/^https?:\/\//i.test(href)) {
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
      } else {
        a.removeAttribute('href');
      }
    });
    return fragment;
  }

  function showReport(n) {
    var id = state.selected;
    var panel = $('report-panel');
    panel.hidden = false;
    $('evidence-panel').hidden = true;
    $('report-title').textContent = 'Report of cycle ' + n;
    var body = $('report');
    clear(body);
    body.appendChild(el('p', 'Loading…', 'muted'));
    api('/v1/loops/' + encodeURIComponent(id) + '/cycles/' + encodeURIComponent(n) + '/report', 'text/markdown')
      .then(function (r) { return r.text(); })
      .then(
        function (text) {
          if (state.selected !== id) return;
          clear(body);
          body.appendChild(renderMarkdown(text));
        },
        function (err) {
          clear(body);
          body.appendChild(el('p', err && err.message ? err.message : String(err)));
          handleError(err, null);
        },
      );
    var ev = $('evidence');
    clear(ev);
    apiJson('/v1/loops/' + encodeURIComponent(id) + '/cycles/' + encodeURIComponent(n) + '/evidence').then(
      function (body) {
        if (state.selected !== id) return;
        ev.appendChild(el('span', 'Evidence:', 'muted'));
        (body.files || []).forEach(function (f) {
          var b = el('button', f.label, 'evidence-link');
          b.type = 'button';
          b.dataset.href = f.href;
          b.dataset.label = f.label;
          b.title = f.path;
          ev.appendChild(b);
        });
      },
      function (err) { ev.appendChild(el('span', 'Evidence files: ' + (err && err.message ? err.message : String(err)), 'muted')); },
    );
  }

  function showEvidence(href, label) {
    // Only the API's own artifact paths, fetched with the token and shown as text.
    if (!/^\/v1\/loops\/[a-z0-9-]+\/artifacts\//.test(href)) return;
    $('evidence-panel').hidden = false;
    $('evidence-title').textContent = label;
    $('evidence-text').textContent = 'Loading…';
    api(href, 'text/plain, application/json, application/xml, */*')
      .then(function (r) { return r.text(); })
      .then(
        function (text) { $('evidence-text').textContent = text.length > 500000 ? text.slice(0, 500000) + '\n… (cut at 500 kB)' : text; },
        function (err) { $('evidence-text').textContent = err && err.message ? err.message : String(err); },
      );
  }

  // ---- clusters across loops -------------------------------------------------------------------------

  function envQuery(selectId) {
    var env = $(selectId).value;
    return env ? 'environment=' + encodeURIComponent(env) + '&' : '';
  }

  function sightingText(s) { return s ? fmtTime(s.at) + ' (' + s.loopId + ' #' + s.cycle + ')' : ''; }

  function loadClusters() {
    apiJson('/v1/insights/clusters?' + envQuery('clusters-env') + 'loops=50').then(function (body) {
      showError('');
      $('clusters-window').textContent = 'from the newest ' + body.loopsRead + ' loop(s)';
      var tbody = $('clusters');
      clear(tbody);
      var list = body.clusters || [];
      $('clusters-empty').hidden = list.length > 0;
      list.forEach(function (c) {
        var tr = document.createElement('tr');
        var name = el('td');
        name.appendChild(el('div', c.title));
        name.appendChild(el('div', c.fingerprint + ' · ' + c.triage + ' · ' + c.testCount + ' test(s)', 'fp'));
        if (c.tests && c.tests.length) name.title = c.tests.join('\n');
        tr.appendChild(name);
        tr.appendChild(el('td', (c.environments || []).join(', ')));
        var first = el('td');
        first.appendChild(el('div', fmtTime(c.firstSeen.at)));
        first.appendChild(loopLink(c.firstSeen.loopId, c.firstSeen.loopId + ' #' + c.firstSeen.cycle));
        tr.appendChild(first);
        var last = el('td');
        last.appendChild(el('div', fmtTime(c.lastSeen.at)));
        last.appendChild(loopLink(c.lastSeen.loopId, c.lastSeen.loopId + ' #' + c.lastSeen.cycle));
        tr.appendChild(last);
        tr.appendChild(el('td', c.cycles + ' in ' + c.loops + ' loop(s)'));
        var fixes = el('td');
        (c.fixes || []).forEach(function (f) {
          fixes.appendChild(el('div', (f.commit || '').slice(0, 10) + (f.fixCommit ? '' : ' (deployed)') + ' · ' + f.loopId + ' #' + f.cycle));
        });
        if (!c.fixes || !c.fixes.length) fixes.appendChild(el('span', '—', 'muted'));
        tr.appendChild(fixes);
        tr.appendChild(el('td', c.regressions ? c.regressions + '×' : 'no'));
        var st = el('td');
        // Not open and no fix credited: its tests failed under another fingerprint, or did not run.
        var shown = c.open ? 'open' : c.fixes && c.fixes.length ? 'fixed' : 'no longer failing';
        st.appendChild(el('span', shown, 'tag ' + (c.open ? 'open' : c.fixes && c.fixes.length ? 'fixed' : '')));
        tr.appendChild(st);
        tbody.appendChild(tr);
      });
    }, function (err) { handleError(err, loadClusters); });
  }

  // ---- flaky tests ---------------------------------------------------------------------------------------

  function loadFlaky() {
    apiJson('/v1/insights/flaky?' + envQuery('flaky-env') + 'loops=50').then(function (body) {
      showError('');
      $('flaky-window').textContent = 'from the newest ' + body.loopsRead + ' loop(s)';
      var tbody = $('flaky');
      clear(tbody);
      var list = body.tests || [];
      $('flaky-empty').hidden = list.length > 0;
      list.forEach(function (t) {
        var tr = document.createElement('tr');
        tr.appendChild(el('td', t.id));
        tr.appendChild(el('td', (t.environments || []).join(', ')));
        tr.appendChild(el('td', pct(t.failRate)));
        tr.appendChild(el('td', t.flakes + ' / ' + t.failures + ' / ' + t.cyclesObserved));
        var last = el('td');
        last.appendChild(el('div', fmtTime(t.lastSeen.at)));
        last.appendChild(loopLink(t.lastSeen.loopId, t.lastSeen.loopId + ' #' + t.lastSeen.cycle));
        tr.appendChild(last);
        var q = el('td');
        q.appendChild(el('span', t.quarantined ? 'yes' : 'no', 'tag ' + (t.quarantined ? 'yes' : '')));
        tr.appendChild(q);
        tbody.appendChild(tr);
      });
    }, function (err) { handleError(err, loadFlaky); });
  }

  // ---- trends (Chart.js) ------------------------------------------------------------------------------

  var PALETTE = ['#0969da', '#1a7f37', '#cf222e', '#8250df', '#bf8700', '#1b7c83', '#6e7781'];

  function loadTrends() {
    var q = envQuery('trends-env') + 'loops=' + encodeURIComponent($('trends-n').value);
    var trigger = $('trends-trigger').value;
    if (trigger) q += '&trigger=' + encodeURIComponent(trigger);
    apiJson('/v1/insights/trends?' + q).then(function (body) {
      showError('');
      renderTrends(body.environments || []);
    }, function (err) { handleError(err, loadTrends); });
  }

  function renderTrends(envs) {
    var tbody = $('trends');
    clear(tbody);
    $('trends-empty').hidden = envs.length > 0;
    envs.forEach(function (e) {
      var tr = document.createElement('tr');
      var last = e.points.length ? e.points[e.points.length - 1] : null;
      tr.appendChild(el('td', e.environment));
      tr.appendChild(el('td', e.points.length));
      tr.appendChild(el('td', pct(e.greenRate)));
      tr.appendChild(el('td', e.medianCyclesToGreen === null ? '—' : e.medianCyclesToGreen));
      tr.appendChild(el('td', last ? pct(last.passRate) : '—'));
      tbody.appendChild(tr);
    });
    state.charts.forEach(function (c) { c.destroy(); });
    state.charts = [];
    if (!window.Chart) {
      showError('The chart library did not load; the table still shows the figures.');
      return;
    }
    // One label per loop start (all environments on one axis), so environments line up in time.
    var labels = [];
    envs.forEach(function (e) { e.points.forEach(function (p) { labels.push(p.startedAt); }); });
    labels = labels.filter(function (v, i, a) { return a.indexOf(v) === i; }).sort();
    var shown = labels.map(function (l) { return new Date(l).toLocaleString(); });
    function datasets(pick, type, suffix, dashed) {
      return envs.map(function (e, i) {
        var color = PALETTE[i % PALETTE.length];
        return {
          type: type,
          label: e.environment + (suffix || ''),
          data: labels.map(function (l) {
            var p = e.points.filter(function (x) { return x.startedAt === l; })[0];
            return p ? pick(p) : null;
          }),
          borderColor: color,
          backgroundColor: color,
          borderDash: dashed ? [5, 4] : [],
          spanGaps: true,
          pointRadius: 3,
        };
      });
    }
    function percent(x) { return x === null || x === undefined ? null : Math.round(x * 1000) / 10; }
    var common = { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom' } } };
    state.charts.push(
      new window.Chart($('chart-pass'), {
        type: 'line',
        data: {
          labels: shown,
          datasets: datasets(function (p) { return percent(p.firstPassRate); }, 'line', ' · first cycle', true).concat(
            datasets(function (p) { return percent(p.passRate); }, 'line', ' · last cycle', false),
          ),
        },
        options: Object.assign({}, common, { scales: { y: { min: 0, max: 100, title: { display: true, text: '% passed' } } } }),
      }),
    );
    state.charts.push(
      new window.Chart($('chart-cycles'), {
        type: 'bar',
        data: { labels: shown, datasets: datasets(function (p) { return p.cyclesToGreen; }, 'bar') },
        options: Object.assign({}, common, { scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'cycles' } } } }),
      }),
    );
  }

  // ---- schedules ------------------------------------------------------------------------------------------

  function loadSchedules() {
    apiJson('/v1/schedules').then(function (body) {
      showError('');
      var tbody = $('schedules');
      clear(tbody);
      var list = body.schedules || [];
      $('schedules-empty').hidden = list.length > 0;
      list.forEach(function (s) {
        var tr = document.createElement('tr');
        tr.appendChild(el('td', s.environment));
        tr.appendChild(el('td', s.name));
        tr.appendChild(el('td', s.cron));
        tr.appendChild(el('td', s.timezone));
        var next = el('td');
        var runs = s.nextRuns && s.nextRuns.length ? s.nextRuns : s.next ? [s.next] : [];
        runs.slice(0, 3).forEach(function (r) { next.appendChild(el('div', fmtTime(r))); });
        if (!runs.length) next.appendChild(el('span', '—', 'muted'));
        tr.appendChild(next);
        tr.appendChild(el('td', s.source === 'config' ? 'greenloop.yaml' : 'API' + (s.createdBy ? ' (' + s.createdBy + ')' : '')));
        tbody.appendChild(tr);
      });
    }, function (err) { handleError(err, loadSchedules); });
  }

  // ---- live events (fetch streaming: EventSource cannot send Authorization) ------------------------------

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
    $('stream-state').textContent = '';
  }

  function appendEvent(e) {
    var list = $('events');
    var li = el('li');
    li.appendChild(el('span', fmtTime(e.time) + ' '));
    li.appendChild(el('span', e.type, 'type'));
    var where = [];
    if (e.cycle !== undefined) where.push('cycle ' + e.cycle);
    if (e.stage) where.push(e.stage);
    if (where.length) li.appendChild(el('span', ' [' + where.join(', ') + ']', 'muted'));
    li.appendChild(el('span', ' ' + (e.message || '')));
    var stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.appendChild(li);
    while (list.children.length > 1000) list.removeChild(list.firstChild);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  /** Parses SSE frames from a text buffer; returns the unparsed rest. */
  function parseFrames(buffer, onFrame) {
    buffer = buffer.replace(/\r\n?/g, '\n');
    var end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      var block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      var frame = { id: null, event: null, data: [] };
      block.split('\n').forEach(function (line) {
        if (line === '' || line.charAt(0) === ':') return;
        var i = line.indexOf(':');
        var field = i < 0 ? line : line.slice(0, i);
        var value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data.push(value);
      });
      if (frame.data.length || frame.id) onFrame(frame);
    }
    return buffer;
  }

  function followEvents(id, lastId) {
    stopStream();
    var ctrl = new AbortController();
    state.stream = ctrl;
    var last = lastId;
    $('stream-state').textContent = '(connecting…)';
    var path = '/v1/loops/' + encodeURIComponent(id) + '/events' + (last && last !== '0' ? '?lastEventId=' + encodeURIComponent(last) : '');
    api(path, 'text/event-stream', ctrl.signal)
      .then(function (res) {
        if (!res.body) throw new Error('This browser cannot stream fetch responses.');
        $('stream-state').textContent = '(live)';
        var reader = res.body.getReader();
        var decoder = new TextDecoder();
        var buffer = '';
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer = parseFrames(buffer + decoder.decode(chunk.value, { stream: true }), function (frame) {
              if (frame.id) last = frame.id;
              if (!frame.data.length) return;
              var e;
              try {
                e = JSON.parse(frame.data.join('\n'));
              } catch (_) {
                return;
              }
              appendEvent(e);
              // Stage starts and ends move the timeline; cycle and loop ends change the list too.
              if (/^(loop\.(started|finished)|cycle\.(started|finished)|stage\.(started|finished))$/.test(e.type)) scheduleRefresh();
            });
            return pump();
          });
        }
        return pump();
      })
      .then(
        function () {
          // The server ends the stream after loop.finished; if the loop still runs, reconnect.
          if (state.stream !== ctrl) return;
          state.stream = null;
          loadLoop().then(function (loop) {
            if (state.selected !== id) return;
            if (loop && TERMINAL.indexOf(loop.state) >= 0) $('stream-state').textContent = '(loop finished, stream closed)';
            else if (loop) followEvents(id, last);
          });
        },
        function (err) {
          if (state.stream !== ctrl || (err && err.name === 'AbortError')) return;
          state.stream = null;
          if (err instanceof AuthError) return handleError(err, null);
          $('stream-state').textContent = '(disconnected, retrying in ' + RETRY_MS / 1000 + 's)';
          if (!(err instanceof NetworkError)) showError('Event stream: ' + (err && err.message ? err.message : String(err)));
          setTimeout(function () {
            if (state.selected === id && !state.stream && state.token) followEvents(id, last);
          }, RETRY_MS);
        },
      );
  }

  // ---- wiring --------------------------------------------------------------------------------------------

  function init() {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var value = $('token').value.trim();
      $('token').value = '';
      if (!value) return;
      state.token = value;
      sessionStorage.setItem(TOKEN_KEY, value);
      start();
    });
    $('logout').addEventListener('click', function () { askToken('Signed out; the token is forgotten.'); });
    $('refresh').addEventListener('click', refreshView);
    $('tabs').addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-view]');
      if (b) location.hash = '#view=' + b.dataset.view;
    });
    $('start-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      if ($('start-env').value) startLoop($('start-env').value);
    });
    $('cancel-loop').addEventListener('click', cancelSelected);
    $('loops-more').addEventListener('click', function () {
      state.listPages += 1;
      loadLoops();
    });
    $('loops').addEventListener('click', function (ev) {
      var tr = ev.target.closest('tr');
      if (tr && tr.dataset.id) location.hash = '#loop=' + tr.dataset.id;
    });
    $('cycles').addEventListener('click', function (ev) {
      var btn = ev.target.closest('button.report-link');
      if (btn) showReport(btn.dataset.cycle);
    });
    $('evidence').addEventListener('click', function (ev) {
      var btn = ev.target.closest('button.evidence-link');
      if (btn) showEvidence(btn.dataset.href, btn.dataset.label);
    });
    $('report-close').addEventListener('click', function () { $('report-panel').hidden = true; });
    $('evidence-close').addEventListener('click', function () { $('evidence-panel').hidden = true; });
    $('clusters-env').addEventListener('change', loadClusters);
    $('flaky-env').addEventListener('change', loadFlaky);
    ['trends-env', 'trends-trigger', 'trends-n'].forEach(function (id) { $(id).addEventListener('change', loadTrends); });
    window.addEventListener('hashchange', function () { if (state.session) routeFromHash(); });
    if (state.token) start();
    else askToken('');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
`;
