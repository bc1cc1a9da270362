/** Dashboard script, part: Clusters across loops, flaky tests, and the trends charted with Chart.js. See client.ts. */
export const INSIGHTS_JS = String.raw`  // ---- clusters across loops -------------------------------------------------------------------------

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

`;
