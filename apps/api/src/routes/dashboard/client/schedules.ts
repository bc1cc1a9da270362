/** Dashboard script, part: Schedules and their next runs. See client.ts. */
export const SCHEDULES_JS = String.raw`  // ---- schedules ------------------------------------------------------------------------------------------

  function loadSchedules() {
    apiJson('/v1/schedules').then(function (body) {
      showError('');
      var tbody = $('schedules');
      clear(tbody);
      var list = body.schedules || [];
      $('schedules-empty').hidden = list.length > 0;
      list.forEach(function (s) {
        var tr = document.createElement('tr');
        tr.appendChild(envCell(s.environment));
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

`;
