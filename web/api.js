// The staff API from the browser: JSON in and out, the CSRF token on every change, and one
// place that notices an ended session (401) and sends the user back to the log-in page.
export const session = { csrf: null, role: null, user_id: null, label: null };

export class api_error extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

let on_logged_out = () => {};
export function when_logged_out(handler) { on_logged_out = handler; }

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new api_error(0, { error: 'The desk cannot be reached. Check the connection and try again.' });
  }
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== '/api/v1/login') {
    session.csrf = null;
    on_logged_out();
  }
  if (!response.ok) throw new api_error(response.status, data);
  return data;
}

export const can_change = () => session.role === 'staff' || session.role === 'admin';
export const is_admin = () => session.role === 'admin';

export function remember_session(body) {
  session.csrf = body.csrf;
  session.role = body.role;
  session.user_id = body.user_id ?? null;
  session.label = body.label ?? null;
}

// The taxonomy and the staff list change rarely: fetched once per page load.
let taxonomy_promise = null;
export function taxonomy() {
  taxonomy_promise ||= api('/api/v1/taxonomy').catch((e) => { taxonomy_promise = null; throw e; });
  return taxonomy_promise;
}

let users_promise = null;
export function users() {
  users_promise ||= api('/api/v1/users').then((b) => b.users || []).catch(() => { users_promise = null; return []; });
  return users_promise;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}
