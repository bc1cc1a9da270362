/** Dashboard script, part: API access with the token (Authorization header only) and the central error handling: 401 asks for the token again, network errors retry. See client.ts. */
export const API_JS = String.raw`  // ---- API access ------------------------------------------------------------------------------------

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

`;
