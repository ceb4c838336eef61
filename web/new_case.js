// A proactive case (#/new, staff and admin): a story the desk pitches itself rather than one a
// journalist asked for. POST /api/v1/cases, then on to the new case's page. Counted as proactive.
import { api, can_change, taxonomy } from './api.js';
import { field, field_errors, from_london_input, h, replace, select, send_form, toast } from './ui.js';

const media = ['tv', 'radio', 'print', 'online', 'podcast'];

export function new_case_view(container) {
  if (!can_change()) {
    replace(container, h('h2', {}, 'New case'), h('p', {}, 'Only staff can open cases.'));
    return { on_event() {}, destroy() {} };
  }
  const summary = h('textarea', { id: 'new-summary', name: 'summary', rows: 5, maxlength: 5000, required: true });
  const topics = h('select', { id: 'new-topics', name: 'topics', multiple: true, size: 6 });
  const regions = h('select', { id: 'new-regions', name: 'regions', multiple: true, size: 6 });
  const medium = select([['', 'not known'], ...media.map((m) => [m, m])], '', { id: 'new-medium', name: 'medium' });
  const outlet = h('input', { type: 'text', id: 'new-outlet', name: 'outlet_name', maxlength: 200, autocomplete: 'off' });
  const scope = select([['', 'not known'], ['national', 'national'], ['local', 'local'], ['international', 'international']], '',
    { id: 'new-scope', name: 'outlet_scope' });
  const deadline = h('input', { type: 'datetime-local', id: 'new-deadline', name: 'deadline' });
  const priority = select(['urgent', 'high', 'normal', 'low'].map((p) => [p, p]), 'normal', { id: 'new-priority', name: 'priority' });
  const error_el = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { id: 'new-case-form', class: 'grid-form', novalidate: true },
    h('div', { class: 'wide-field' }, field('Summary', summary,
      'The story you are pitching: what, who could speak, why now. Stored encrypted like a request.')),
    field('Topics', topics, 'Ctrl or Cmd to choose several'), field('Regions', regions, 'Ctrl or Cmd to choose several'),
    field('Medium', medium), field('Outlet', outlet), field('Outlet scope', scope),
    field('Deadline', deadline, 'London time; leave empty if there is none'), field('Priority', priority),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit' }, 'Open case'), ' ', h('a', { href: '#/queue' }, 'Cancel')),
    error_el);
  const errors = field_errors(form);

  taxonomy().then((t) => {
    topics.append(...t.topics.map((x) => h('option', { value: x.id }, x.label)));
    const groups = new Map();
    for (const r of t.regions) {
      const level = r.level || 'region';
      if (!groups.has(level)) groups.set(level, []);
      groups.get(level).push(r);
    }
    const group_words = { country: 'Countries', region: 'Regions', place: 'Places' };
    for (const [level, list] of groups) {
      regions.append(h('optgroup', { label: group_words[level] || level }, list.map((x) => h('option', { value: x.id }, x.label))));
    }
  }).catch(() => { error_el.textContent = 'The topics and regions could not be loaded; reload the page to try again.'; });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    error_el.textContent = '';
    if (!summary.value.trim()) { errors.show('summary', 'Write the story you are pitching.'); return; }
    const body = {
      summary: summary.value.trim(),
      topics: [...topics.selectedOptions].map((o) => o.value),
      regions: [...regions.selectedOptions].map((o) => o.value),
      priority: priority.value,
    };
    if (medium.value) body.medium = medium.value;
    if (outlet.value.trim()) body.outlet_name = outlet.value.trim();
    if (scope.value) body.outlet_scope = scope.value;
    if (deadline.value) {
      const at = from_london_input(deadline.value);
      if (!at) { errors.show('deadline', 'Give a date and a time.'); return; }
      body.deadline = at;
    }
    const made = await send_form(form.querySelector('button[type=submit]'), () => api('/api/v1/cases', { method: 'POST', body }),
      error_el, errors);
    if (!made) return;
    toast('Case opened');
    location.hash = `#/case/${made.case.ref}`;
  });

  replace(container, h('p', {}, h('a', { href: '#/queue' }, '← Queue')), h('h2', { id: 'new-case-heading' }, 'New proactive case'),
    h('p', { class: 'hint' }, 'A story the desk pitches to the media itself. It is counted as proactive work in the reports.'),
    form);
  document.title = 'New case – MediaDesk';
  return { on_event() {}, destroy() {} };
}
