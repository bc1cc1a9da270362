/** Dashboard script, part: Event listeners, and the start: the token prompt or the dashboard. See client.ts. */
export const WIRING_JS = String.raw`  // ---- wiring --------------------------------------------------------------------------------------------

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
`;
