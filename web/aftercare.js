// Aftercare (staff and admin): the check-ins owed to spokespeople after they took part. The page
// (#/aftercare) lists open tasks, soonest due first, overdue ones marked in words and colour,
// each with a Done button; the navigation shows the open count and an overdue badge, and the
// queue a strip while any are overdue. Refreshed on live events.
import { api, can_change, query } from './api.js';
import { busy, case_link, h, replace, show_error, toast, when } from './ui.js';

const reason_words = { offer_accepted: 'took part (offer accepted)', coverage: 'appeared in coverage' };

// ---- the counts in the navigation, shared with the queue's strip ----
let counts = null;  // { open, overdue } or null while unknown (or when the server has no aftercare)
let counting = null;
const listeners = new Set();

function paint_nav() {
  const link = document.getElementById('aftercare-link');
  if (!link) return;
  link.hidden = !can_change();
  const count = document.getElementById('aftercare-count');
  const overdue = document.getElementById('aftercare-overdue');
  count.textContent = counts ? String(counts.open) : '';
  count.hidden = !counts;
  overdue.textContent = counts?.overdue ? `${counts.overdue} overdue` : '';
  overdue.hidden = !counts?.overdue;
  link.setAttribute('aria-label', counts
    ? `Aftercare: ${counts.open} open${counts.overdue ? `, ${counts.overdue} overdue` : ''}` : 'Aftercare');
}

// Asks the server for the counts (one request at a time) and tells the nav and the listeners.
export function refresh_aftercare_counts() {
  if (!can_change()) { counts = null; paint_nav(); return Promise.resolve(null); }
  counting ||= api('/api/v1/aftercare')
    .then((b) => { counts = { open: b.open ?? b.tasks.length, overdue: b.overdue ?? 0 }; })
    .catch(() => { counts = null; })
    .then(() => {
      counting = null;
      paint_nav();
      for (const f of listeners) f(counts);
      return counts;
    });
  return counting;
}

export function on_aftercare_counts(listener) {
  listeners.add(listener);
  if (counts) listener(counts);
  return () => listeners.delete(listener);
}

export function reset_aftercare_counts() { counts = null; paint_nav(); }

// The queue's strip: shown only while a check-in is overdue.
export function aftercare_strip() {
  const strip = h('div', { id: 'aftercare-strip', class: 'aftercare-strip', role: 'status', hidden: true });
  const stop = on_aftercare_counts((c) => {
    if (!c?.overdue) { strip.hidden = true; replace(strip); return; }
    strip.hidden = false;
    replace(strip, h('strong', {}, 'Aftercare due: '),
      `${c.overdue} ${c.overdue === 1 ? 'check-in is' : 'check-ins are'} overdue. `, h('a', { href: '#/aftercare' }, 'See aftercare'));
  });
  return { strip, stop };
}

// ---- the page ----
export function aftercare_view(container) {
  if (!can_change()) {
    replace(container, h('h2', {}, 'Aftercare'), h('p', {}, 'Aftercare is for staff: ask a member of staff.'));
    return { on_event() {}, destroy() {} };
  }
  let state = 'open';
  const rows = h('tbody');
  const summary = h('p', { id: 'aftercare-summary', class: 'hint' });
  const empty = h('p', { class: 'empty', hidden: true });
  const error_el = h('p', { class: 'error', role: 'alert' });
  const show = h('select', { id: 'aftercare-state', name: 'state' },
    [['open', 'Open'], ['done', 'Done'], ['all', 'All']].map(([v, t]) => h('option', { value: v }, t)));
  show.addEventListener('change', () => { state = show.value; load(); });

  replace(container, h('h2', { id: 'aftercare-heading' }, 'Aftercare'),
    h('p', { class: 'hint' }, 'Check in with each spokesperson after they take part: how did it go, are they safe, do they need anything?'),
    h('div', { class: 'field inline-field' }, h('label', { for: 'aftercare-state' }, 'Show'), show),
    summary, error_el,
    h('div', { class: 'table-wrap' }, h('table', { id: 'aftercare', 'aria-labelledby': 'aftercare-heading' },
      h('thead', {}, h('tr', {}, ['Due', 'Spokesperson', 'Case', 'Why', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
      rows)),
    empty);

  function row(t) {
    const actions = h('td', { class: 'actions' });
    if (!t.done_at) {
      const b = h('button', { type: 'button', class: 'small' }, 'Done');
      b.setAttribute('aria-label', `Done: check-in with ${t.spokesperson?.alias ?? 'the spokesperson'} for ${t.case_ref}`);
      b.addEventListener('click', async () => {
        const done = await busy(b, () => api(`/api/v1/aftercare/${Number(t.id)}/done`, { method: 'POST', body: {} }), error_el);
        if (done) { toast('Aftercare done'); load(); }
      });
      actions.append(b);
    }
    const state_cell = t.done_at ? h('td', { class: 'task-state' }, `done ${when(t.done_at)}`)
      : t.overdue ? h('td', { class: 'task-state red' }, h('strong', {}, 'Overdue'))
        : h('td', { class: 'task-state' }, 'open');
    return h('tr', { dataset: { taskId: String(t.id), overdue: t.overdue && !t.done_at ? 'true' : 'false' }, class: t.overdue && !t.done_at ? 'overdue' : '' },
      h('td', { class: t.overdue && !t.done_at ? 'red' : '' }, when(t.due_at)),
      h('td', {}, t.spokesperson?.alias ?? '—'),
      h('td', {}, case_link(t.case_ref)),
      h('td', {}, reason_words[t.reason] || t.reason),
      state_cell, actions);
  }

  async function load() {
    try {
      const b = await api(`/api/v1/aftercare${query({ state })}`);
      replace(rows, b.tasks.map(row));
      replace(summary, `${b.open} open, ${b.overdue} overdue.`);
      empty.hidden = b.tasks.length !== 0;
      empty.textContent = state === 'open' ? 'No check-ins are due. Tasks appear here when a spokesperson takes part.' : 'No tasks to show.';
      refresh_aftercare_counts();
    } catch (error) {
      if (error.status !== 401) show_error(error, error_el);
    }
  }

  load();
  document.title = 'Aftercare – MediaDesk';
  return { on_event() { load(); }, destroy() {} };
}
