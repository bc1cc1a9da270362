/** Dashboard script, part: A cycle's report: markdown rendered by markdown-it (raw HTML off), sanitized by DOMPurify into a DOM fragment; evidence files fetched with the token and shown as text. See client.ts. */
export const REPORT_JS = String.raw`  // ---- report: markdown rendered, then sanitized, never assigned as an HTML string ------------------------

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

`;
