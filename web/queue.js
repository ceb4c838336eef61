// The queue: open cases, most urgent first, with live countdowns, filters, counts per status,
// "assign to me" and keyboard shortcuts. Reloaded on live events; never renders request text.
import { aftercare_strip, refresh_aftercare_counts } from './aftercare.js';
import { api, can_change, query, session, taxonomy, users } from './api.js';
import {
  busy, case_link, field, h, paint_countdown, replace, select, show_error, status_label, statuses, toast, when,
} from './ui.js';

// Filters survive going to a case and back (per tab).
const saved = JSON.parse(sessionStorage.getItem('queue-filters') || '{}');
const filters = { status: 'open', topic: '', region: '', medium: '', assignee: '', ...saved };

export function queue_view(container) {
  const table_body = h('tbody');
  const counts = h('div', { id: 'status-counts', class: 'counts', role: 'group', 'aria-label': 'Cases per status' });
  const empty = h('p', { class: 'empty', hidden: true });
  const total = h('span', { class: 'total' });
  const filter_bar = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the queue' });
  filter_bar.addEventListener('submit', (e) => e.preventDefault());
  let selected = 0;
  let loading = null;
  let again = false;

  const status_filter = select([['open', 'Open (new to accepted)'], ['', 'All'],
    ...statuses.map((s) => [s, status_label(s)])], filters.status, { name: 'status' });
  const topic_filter = select([['', 'Any topic']], filters.topic, { name: 'topic' });
  const region_filter = select([['', 'Any region']], filters.region, { name: 'region' });
  const medium_filter = select([['', 'Any medium'], ...['tv', 'radio', 'print', 'online', 'podcast'].map((m) => [m, m])],
    filters.medium, { name: 'medium' });
  const assignee_filter = select([['', 'Anyone'], ['me', 'Me'], ['none', 'Nobody']], filters.assignee, { name: 'assignee' });
  filter_bar.append(field('Status', status_filter), field('Topic', topic_filter), field('Region', region_filter),
    field('Medium', medium_filter), field('Assignee', assignee_filter));
  for (const control of [status_filter, topic_filter, region_filter, medium_filter, assignee_filter]) {
    control.addEventListener('change', () => {
      filters[control.name] = control.value;
      sessionStorage.setItem('queue-filters', JSON.stringify(filters));
      load();
    });
  }

  // Options that need the server: filled in when they arrive, keeping the saved choice.
  taxonomy().then((t) => {
    topic_filter.append(...t.topics.map((x) => h('option', { value: x.id, selected: x.id === filters.topic }, x.label)));
    region_filter.append(...t.regions.filter((r) => r.level === 'region' || r.level === 'country')
      .map((x) => h('option', { value: x.id, selected: x.id === filters.region }, x.label)));
  }).catch(() => {});
  users().then((list) => {
    assignee_filter.append(...list.filter((u) => u.role !== 'viewer')
      .map((u) => h('option', { value: String(u.id), selected: String(u.id) === filters.assignee }, u.label)));
  });

  // Staff see the overdue check-ins at a glance (the strip hides itself when none are overdue).
  const aftercare = can_change() ? aftercare_strip() : null;
  replace(container,
    h('div', { class: 'queue-head' },
      h('div', { class: 'queue-title' }, h('h2', { id: 'queue-heading' }, 'Queue ', total),
        can_change() ? h('a', { id: 'new-case', class: 'button-link', href: '#/new' }, 'New case') : null),
      h('p', { class: 'hint' }, 'Keys: j / k move, Enter opens, a assigns to me, / filters, ? help.')),
    aftercare?.strip, filter_bar, counts,
    h('div', { class: 'table-wrap' },
      h('table', { id: 'queue', 'aria-labelledby': 'queue-heading' },
        h('thead', {}, h('tr', {}, ['Reference', 'Priority', 'Status', 'Deadline', 'Outlet', 'Medium', 'Topics',
          'Assignee', ''].map((t) => h('th', { scope: 'col' }, t)))),
        table_body)),
    empty);

  function rows() { return [...table_body.querySelectorAll('tr[data-ref]')]; }

  function select_row(index, focus = true) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => row.classList.toggle('selected', i === selected));
    all[selected].setAttribute('aria-current', 'true');
    all.forEach((row, i) => { if (i !== selected) row.removeAttribute('aria-current'); });
    if (focus) all[selected].querySelector('a').focus();
  }

  async function assign_to_me(ref, button) {
    const done = await busy(button, () => api(`/api/v1/cases/${ref}/assignee`, {
      method: 'PUT', body: { user_id: session.user_id },
    }));
    if (done) { toast(`${ref} assigned to you`); load(); }
  }

  function row(c) {
    const deadline = h('td', { class: 'countdown', dataset: { deadline: c.deadline || '' } });
    paint_countdown(deadline, c.deadline);
    if (c.deadline) deadline.title = when(c.deadline);
    const assignee = c.assignee ? (c.assignee.id === session.user_id ? 'me' : c.assignee.label) : '—';
    const action = h('td', { class: 'actions' });
    if (can_change() && (!c.assignee || c.assignee.id !== session.user_id)) {
      const button = h('button', { type: 'button', class: 'small' }, 'Assign to me');
      button.addEventListener('click', () => assign_to_me(c.ref, button));
      action.append(button);
    }
    return h('tr', { dataset: { ref: c.ref, priority: c.priority } },
      h('td', {}, case_link(c.ref), c.proactive ? [' ', h('span', { class: 'badge proactive small-badge' }, 'Proactive')] : null),
      h('td', { class: 'priority' }, c.priority),
      h('td', { class: 'status' }, status_label(c.status)),
      deadline,
      h('td', {}, c.outlet?.name || '—'),
      h('td', {}, c.medium || '—'),
      h('td', {}, (c.topics || []).join(', ') || '—'),
      h('td', { class: 'assignee' }, assignee),
      action);
  }

  // One load at a time; a change arriving meanwhile triggers one more.
  async function load() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      const params = {
        limit: 500, sort: 'urgency', topic: filters.topic, region: filters.region, medium: filters.medium,
        assignee: filters.assignee,
      };
      if (filters.status === 'open') params.open = 1;
      else if (filters.status) params.status = filters.status;
      try {
        const body = await api(`/api/v1/cases${query(params)}`);
        const selected_ref = rows()[selected]?.dataset.ref;
        replace(table_body, body.cases.map(row));
        total.textContent = `(${body.total})`;
        replace(counts, statuses.map((s) => {
          const n = body.counts?.[s] ?? 0;
          const button = h('button', { type: 'button', class: `count${filters.status === s ? ' current' : ''}`,
            'aria-pressed': filters.status === s ? 'true' : 'false' }, `${status_label(s)} `, h('strong', {}, n));
          button.addEventListener('click', () => {
            filters.status = filters.status === s ? 'open' : s;
            status_filter.value = filters.status;
            sessionStorage.setItem('queue-filters', JSON.stringify(filters));
            load();
          });
          return button;
        }));
        empty.hidden = body.cases.length !== 0;
        empty.textContent = filters.status === 'open' && !filters.topic && !filters.region && !filters.medium && !filters.assignee
          ? 'No open cases. New requests appear here as they arrive.'
          : 'No cases match these filters.';
        const keep = rows().findIndex((r) => r.dataset.ref === selected_ref);
        select_row(keep >= 0 ? keep : 0, false);
      } catch (error) {
        if (error.status !== 401) show_error(error);
      }
    })();
    try { await loading; } finally {
      loading = null;
      if (again) { again = false; load(); }
    }
    return undefined;
  }

  const ticker = setInterval(() => {
    for (const cell of table_body.querySelectorAll('td.countdown')) paint_countdown(cell, cell.dataset.deadline || null);
  }, 15000);

  function on_key(event) {
    if (event.target.closest('input, textarea, select') || event.altKey || event.ctrlKey || event.metaKey) return false;
    const all = rows();
    switch (event.key) {
      case 'j': select_row(selected + 1); return true;
      case 'k': select_row(selected - 1); return true;
      case 'o': case 'Enter':
        if (all[selected]) { location.hash = `#/case/${all[selected].dataset.ref}`; return true; }
        return false;
      case 'a': {
        const button = all[selected]?.querySelector('td.actions button');
        if (button) { button.click(); return true; }
        return false;
      }
      case '/': status_filter.focus(); return true;
      default: return false;
    }
  }

  load();
  if (aftercare) refresh_aftercare_counts();
  return {
    on_event(event) { if (event.type !== 'hello') load(); },
    on_key,
    destroy() { clearInterval(ticker); aftercare?.stop(); },
  };
}
