/** Dashboard script, part: The loop list, and the operator actions: start a loop (with an idempotency key) and cancel one. See client.ts. */
export const LOOPS_JS = String.raw`  // ---- loop list ---------------------------------------------------------------------------------------

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
      tr.appendChild(envCell(l.environment));
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

`;
