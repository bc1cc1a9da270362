/** Dashboard script, part: A loop's live events over fetch streaming (EventSource cannot send an Authorization header). See client.ts. */
export const EVENTS_JS = String.raw`  // ---- live events (fetch streaming: EventSource cannot send Authorization) ------------------------------

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

`;
