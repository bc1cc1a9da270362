/** Dashboard script, part: One loop: its facts, stop reason, notices, the stage timeline on one time axis, and the cycles table. See client.ts. */
export const LOOP_VIEW_JS = String.raw`  // ---- one loop ----------------------------------------------------------------------------------------

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

`;
