/**
 * The dashboard's script, served as-is (no build step). Vanilla JS for current browsers. Every value from
 * the API reaches the DOM through textContent or attributes set by code, never as HTML. The token lives in
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

  var state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    selected: null,
    stream: null,
    listTimer: null,
    retryTimer: null,
    refreshTimer: null,
    listPages: 1,
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

  function fmtTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function fmtDuration(fromIso, toIso) {
    if (!fromIso) return '';
    var ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
    if (!(ms >= 0)) return '';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
  }

  function totalsText(t) {
    if (!t || typeof t.total !== 'number') return '—';
    var pct = t.total > 0 ? Math.round((100 * (t.passed || 0)) / t.total) : 0;
    return pct + '% passed (' + (t.passed || 0) + ' passed, ' + (t.failed || 0) + ' failed' + (t.skipped ? ', ' + t.skipped + ' skipped' : '') + ' of ' + t.total + ')';
  }

  // ---- API access ------------------------------------------------------------------------------------

  function AuthError(message) { this.name = 'AuthError'; this.message = message; }
  AuthError.prototype = Object.create(Error.prototype);
  function NetworkError(message) { this.name = 'NetworkError'; this.message = message; }
  NetworkError.prototype = Object.create(Error.prototype);

  /** fetch with the token; 401 → AuthError, network failure → NetworkError, other errors → Error(message). */
  function api(path, accept, signal) {
    var headers = { Authorization: 'Bearer ' + state.token, Accept: accept || 'application/json' };
    return fetch(path, { headers: headers, cache: 'no-store', credentials: 'omit', signal: signal }).then(
      function (res) {
        if (res.status === 401) throw new AuthError('The token was refused (missing, invalid, expired or revoked). Enter it again.');
        if (res.ok) return res;
        return res.text().then(function (body) {
          var msg = 'HTTP ' + res.status;
          try {
            var e = JSON.parse(body);
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

  // ---- token prompt ------------------------------------------------------------------------------------

  function askToken(message) {
    stopStream();
    clearInterval(state.listTimer);
    clearTimeout(state.retryTimer);
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('login').hidden = false;
    $('loops-panel').hidden = true;
    $('loop-panel').hidden = true;
    $('refresh').hidden = true;
    $('logout').hidden = true;
    showError('');
    setStatus('');
    $('login-message').textContent = message || '';
    $('token').value = '';
    $('token').focus();
  }

  function start() {
    $('login').hidden = true;
    $('loops-panel').hidden = false;
    $('refresh').hidden = false;
    $('logout').hidden = false;
    $('login-message').textContent = '';
    loadLoops();
    clearInterval(state.listTimer);
    state.listTimer = setInterval(loadLoops, LIST_POLL_MS);
    var id = selectedFromHash();
    if (id) selectLoop(id);
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
      tr.appendChild(el('td', l.stop ? l.stop.rule + ': ' + l.stop.message : ''));
      tbody.appendChild(tr);
    });
  }

  // ---- one loop ----------------------------------------------------------------------------------------

  function selectedFromHash() {
    var m = /^#loop=([a-z0-9-]{6,64})$/.exec(location.hash);
    return m ? m[1] : null;
  }

  function selectLoop(id) {
    if (state.selected !== id) {
      stopStream();
      clear($('events'));
      $('report-panel').hidden = true;
    }
    state.selected = id;
    if (location.hash !== '#loop=' + id) history.replaceState(null, '', '#loop=' + id);
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

    renderCycles(loop);
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

  function showReport(n) {
    var id = state.selected;
    var panel = $('report-panel');
    panel.hidden = false;
    $('report-title').textContent = 'Report of cycle ' + n;
    $('report').textContent = 'Loading…';
    api('/v1/loops/' + encodeURIComponent(id) + '/cycles/' + encodeURIComponent(n) + '/report', 'text/markdown')
      .then(function (r) { return r.text(); })
      .then(
        function (text) {
          // Shown as text, not rendered: reports quote test output.
          if (state.selected === id) $('report').textContent = text;
        },
        function (err) {
          $('report').textContent = err && err.message ? err.message : String(err);
          handleError(err, null);
        },
      );
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
              if (e.type === 'cycle.finished' || e.type === 'loop.finished' || e.type === 'loop.started') scheduleRefresh();
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
    $('logout').addEventListener('click', function () { askToken('Token forgotten.'); });
    $('refresh').addEventListener('click', function () {
      loadLoops();
      loadLoop();
    });
    $('loops-more').addEventListener('click', function () {
      state.listPages += 1;
      loadLoops();
    });
    $('loops').addEventListener('click', function (ev) {
      var tr = ev.target.closest('tr');
      if (tr && tr.dataset.id) selectLoop(tr.dataset.id);
    });
    $('cycles').addEventListener('click', function (ev) {
      var btn = ev.target.closest('button.report-link');
      if (btn) showReport(btn.dataset.cycle);
    });
    $('report-close').addEventListener('click', function () { $('report-panel').hidden = true; });
    window.addEventListener('hashchange', function () {
      var id = selectedFromHash();
      if (id && state.token && id !== state.selected) selectLoop(id);
    });
    if (state.token) start();
    else askToken('');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
`;
