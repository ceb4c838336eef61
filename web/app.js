// The staff dashboard's entry: log-in, the session, the hash router (#/queue, #/case/REF, #/new,
// #/partners, #/spokespeople[/ID], #/consents, #/audit, #/reports[?from&to], #/reports/annual?year,
// #/aftercare), keyboard shortcuts and the live feed.
// Plain ES modules, no framework; all request text is rendered as text, never as HTML.
import { aftercare_view, refresh_aftercare_counts, reset_aftercare_counts } from './aftercare.js';
import { api, can_change, is_admin, remember_session, session, when_logged_out } from './api.js';
import { case_view } from './case.js';
import { start_live, stop_live } from './live.js';
import { new_case_view } from './new_case.js';
import { queue_view } from './queue.js';
import { audit_view, consents_view, partners_view, spokespeople_view } from './registry.js';
import { annual_view, reports_view } from './reports.js';
import { clear_error, replace, show_error } from './ui.js';

const $ = (id) => document.getElementById(id);
const view_el = $('view');
let current_view = null;

function show_chrome(logged_in) {
  $('login-view').hidden = logged_in;
  $('app-view').hidden = !logged_in;
  $('nav').hidden = !logged_in;
  $('audit-link').hidden = !is_admin();
  $('aftercare-link').hidden = !logged_in || !can_change();
  replace($('whoami'), logged_in ? `${session.label || 'signed in'} · ${session.role}` : '');
}

function show_login(message) {
  stop_live();
  reset_aftercare_counts();
  if (current_view) current_view.destroy();
  current_view = null;
  show_chrome(false);
  $('login-error').textContent = message || '';
  document.title = 'Log in – MediaDesk';
  $('email').focus();
}

when_logged_out(() => show_login('Your session ended. Log in again.'));

function route() {
  if (!session.csrf) return;
  // "#/reports/annual?year=2026": the path picks the view, the query is its parameters.
  const [path, search = ''] = (location.hash || '#/queue').split('?');
  const [, page = 'queue', arg] = path.split('/');
  const params = new URLSearchParams(search);
  if (current_view) current_view.destroy();
  clear_error();
  const nav_page = page === 'case' || page === 'new' ? 'queue' : page;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${nav_page}`) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  const views = {
    queue: () => queue_view(view_el),
    case: () => case_view(view_el, decodeURIComponent(arg || '')),
    partners: () => partners_view(view_el),
    spokespeople: () => spokespeople_view(view_el, /^\d+$/.test(arg || '') ? arg : null),
    consents: () => consents_view(view_el),
    audit: () => audit_view(view_el),
    new: () => new_case_view(view_el),
    reports: () => (arg === 'annual' ? annual_view(view_el, params) : reports_view(view_el, params)),
    aftercare: () => aftercare_view(view_el),
  };
  current_view = (views[page] || views.queue)();
  if (!['case', 'new', 'reports', 'aftercare'].includes(page)) document.title = `${page[0].toUpperCase()}${page.slice(1)} – MediaDesk`;
  // Move focus to the new view's heading, so screen readers and keyboards follow the page change.
  const heading = view_el.querySelector('h2');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function start_app() {
  show_chrome(true);
  start_live((event) => {
    if (current_view) current_view.on_event(event);
    counts_soon();
  });
  route();
  refresh_aftercare_counts();
}

window.addEventListener('hashchange', route);

// The aftercare counts in the navigation follow the live events (a burst of events asks once)
// and the clock (a task becomes overdue without any event).
let counts_timer = null;
function counts_soon() {
  clearTimeout(counts_timer);
  counts_timer = setTimeout(() => { if (session.csrf) refresh_aftercare_counts(); }, 500);
}
setInterval(() => { if (session.csrf) refresh_aftercare_counts(); }, 60000);

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  const button = event.submitter || $('login-form').querySelector('button');
  button.disabled = true;
  try {
    const body = await api('/api/v1/login', {
      method: 'POST', body: { email: $('email').value, password: $('password').value },
    });
    remember_session(body);
    $('password').value = '';
    if (!location.hash || location.hash === '#/login') location.hash = '#/queue';
    start_app();
  } catch (error) {
    show_error(error, $('login-error'));
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  try { await api('/api/v1/logout', { method: 'POST', body: {} }); } catch { /* the session may have ended already */ }
  session.csrf = null;
  show_login('You are logged out.');
});

// Shortcuts: the view handles its own keys first (the queue's j/k/o/a); ? shows the list.
document.addEventListener('keydown', (event) => {
  if (!session.csrf || event.defaultPrevented) return;
  if (event.key === 'Escape') { $('shortcuts').hidden = true; return; }
  if (event.target.closest('input, textarea, select, button') && event.key !== '?') return;
  if (current_view?.on_key && current_view.on_key(event)) { event.preventDefault(); return; }
  if (event.key === '?' && !event.target.closest('input, textarea')) {
    $('shortcuts').hidden = !$('shortcuts').hidden;
    event.preventDefault();
  } else if (event.key === 'g') {
    location.hash = '#/queue';
  }
});
$('shortcuts-close').addEventListener('click', () => { $('shortcuts').hidden = true; });

// An existing session (a reload, a second tab) goes straight to the app.
(async () => {
  try {
    remember_session(await api('/api/v1/session'));
    start_app();
  } catch {
    show_login('');
  }
})();

