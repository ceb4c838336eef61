// MediaDesk dashboard (foundation): log in, list cases. All request text is rendered as text
// (textContent), never as HTML. The CSRF token comes from the log-in or /api/v1/session.
const state = { csrf: null, refresh: null };
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.body) headers['Content-Type'] = 'application/json';
  if (state.csrf && options.method && options.method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  const response = await fetch(path, { ...options, headers, credentials: 'same-origin' });
  const body = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body };
}

function show(view) {
  $('login-view').hidden = view !== 'login';
  $('queue-view').hidden = view !== 'queue';
  $('logout').hidden = view !== 'queue';
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  return td;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short' }) : '—';
}

async function loadCases() {
  const { ok, status, body } = await api('/api/v1/cases?limit=200');
  if (status === 401) return show('login');
  if (!ok) return;
  const rows = body.cases.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.priority = c.priority;
    tr.append(cell(c.ref), cell(c.status), cell(c.priority), cell(c.outlet?.name), cell(when(c.deadline)),
      cell(when(c.created_at)));
    return tr;
  });
  document.querySelector('#case-table tbody').replaceChildren(...rows);
  $('case-total').textContent = `(${body.total})`;
  $('queue-empty').hidden = body.total !== 0;
  show('queue');
  state.refresh ??= setInterval(loadCases, 10000);
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  const { ok, body } = await api('/api/v1/login', {
    method: 'POST',
    body: JSON.stringify({ email: $('email').value, password: $('password').value }),
  });
  if (!ok) { $('login-error').textContent = body.error || 'Log-in failed.'; return; }
  state.csrf = body.csrf;
  $('password').value = '';
  await loadCases();
});

$('logout').addEventListener('click', async () => {
  await api('/api/v1/logout', { method: 'POST' });
  clearInterval(state.refresh);
  state.refresh = null;
  state.csrf = null;
  show('login');
});

(async () => {
  const { ok, body } = await api('/api/v1/session');
  if (!ok) return show('login');
  state.csrf = body.csrf;
  await loadCases();
})();
