// The live feed: server-sent events from /api/v1/events (fed by Redis pub/sub, so any serve
// process's clients hear every change). On (re)connection and on `resync` the view reloads,
// because events may have been missed meanwhile; events carry only types, refs and counts.
let source = null;
let retry_timer = null;
let listener = () => {};

function set_state(live) {
  const el = document.getElementById('live');
  el.textContent = live ? 'Live' : 'Reconnecting…';
  el.classList.toggle('off', !live);
}

function connect() {
  source = new EventSource('/api/v1/events');
  source.addEventListener('open', () => { set_state(true); listener({ type: 'resync' }); });
  source.addEventListener('error', () => {
    set_state(false);
    // EventSource retries by itself unless the answer was not a stream (401, 503): then we do.
    if (source.readyState === EventSource.CLOSED) {
      clearTimeout(retry_timer);
      retry_timer = setTimeout(() => { if (source) connect(); }, 5000);
    }
  });
  for (const type of ['cases_changed', 'case_changed', 'resync']) {
    source.addEventListener(type, (event) => {
      let data = {};
      try { data = JSON.parse(event.data); } catch { /* a resync needs no data */ }
      listener({ ...data, type });
    });
  }
}

export function start_live(on_event) {
  listener = on_event;
  if (!source) connect();
}

export function stop_live() {
  clearTimeout(retry_timer);
  if (source) source.close();
  source = null;
  set_state(false);
}
