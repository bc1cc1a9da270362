/** Dashboard script, part: Sign-in through GET /v1/session (name, role, allowed actions) and the tabs, routed by the URL hash. See client.ts. */
export const SESSION_JS = String.raw`  // ---- sign in -----------------------------------------------------------------------------------------

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

`;
