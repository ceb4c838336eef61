// One case: the request (personal data only after a deliberate reveal with a reason), triage
// fields staff can correct, matches with reasons, offers, replies, internal notes, status moves
// and the timeline. Live events refresh what is shown without losing what staff are typing.
import { api, can_change, session, taxonomy, users } from './api.js';
import { coverage_section } from './coverage.js';
import {
  busy, case_ref_pattern, field, from_london_input, h, paint_countdown, replace, select, show_error, status_label,
  statuses, to_london_input, toast, when,
} from './ui.js';

const media = ['tv', 'radio', 'print', 'online', 'podcast'];

function section(title, id, ...children) {
  return h('section', { class: 'panel', 'aria-labelledby': `${id}-heading` }, h('h3', { id: `${id}-heading` }, title), ...children);
}

function list_text(list) { return (list || []).join(', '); }
function parse_list(text) { return text.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean); }

// A revealed request: a JSON object shown as a definition list (nested objects flattened into
// "journalist name", "journalist email"), anything else as plain text.
function flat_pairs(value, prefix = '') {
  return Object.entries(value).flatMap(([k, v]) => {
    const key = `${prefix}${k.replaceAll('_', ' ')}`;
    if (v && typeof v === 'object' && !Array.isArray(v)) return flat_pairs(v, `${key} `);
    return [[key, Array.isArray(v) ? v.join(', ') : v === null ? '—' : String(v)]];
  });
}

function request_view(document_value) {
  if (document_value && typeof document_value === 'object' && !Array.isArray(document_value)) {
    return h('dl', { class: 'pairs' }, flat_pairs(document_value).flatMap(([k, v]) => [
      h('dt', {}, k), h('dd', { class: v.includes('\n') ? 'pre' : '' }, v)]));
  }
  return h('pre', { class: 'pre' }, typeof document_value === 'string' ? document_value : JSON.stringify(document_value));
}

function timeline_text(event) {
  const d = event.data || {};
  const parts = Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.join('; ');
}

export function case_view(container, ref) {
  if (!case_ref_pattern.test(ref)) {
    replace(container, h('h2', {}, 'No such case'), h('p', {}, 'The reference is not valid.'), h('a', { href: '#/queue' }, 'Back to the queue'));
    return { on_event() {}, destroy() {} };
  }
  const editable = can_change();
  let current = null;
  let triage_dirty = false;
  let matches_loaded = false;

  // ---- the fixed frame; sections fill in as data arrives ----
  const status_el = h('span', { id: 'case-status', class: 'badge' });
  const countdown_el = h('span', { class: 'countdown' });
  const facts = h('dl', { class: 'facts' });
  const assign_area = h('div', { class: 'assign' });
  const error_el = h('p', { class: 'error', role: 'alert' });

  const request_area = h('div', { id: 'request', 'aria-live': 'polite' });
  const request_error = h('p', { class: 'error', role: 'alert' });
  const request_section = section('Request', 'request-section', request_area, request_error);

  const triage_form = h('form', { id: 'triage-form', class: 'grid-form' });
  const triage_error = h('p', { class: 'error', role: 'alert' });
  const matches_list = h('ul', { id: 'matches', class: 'matches' });
  const excluded = h('details', { id: 'excluded' });
  const matches_error = h('p', { class: 'error', role: 'alert' });
  const offers_body = h('tbody');
  const offers_error = h('p', { class: 'error', role: 'alert' });
  const notes_list = h('ul', { id: 'notes', class: 'notes' });
  const notes_error = h('p', { class: 'error', role: 'alert' });
  const timeline_list = h('ol', { id: 'timeline', class: 'timeline' });
  const status_area = h('div', { class: 'status-move' });
  const status_error = h('p', { class: 'error', role: 'alert' });
  const waterfall_box = h('input', { type: 'checkbox', id: 'waterfall' });

  const proactive_el = h('span', { id: 'case-proactive', class: 'badge proactive', hidden: true }, 'Proactive');
  const coverage = coverage_section(ref, editable);
  const heading = h('h2', { id: 'case-heading' }, ref, ' ', status_el, ' ', proactive_el);
  replace(container,
    h('p', {}, h('a', { href: '#/queue' }, '← Queue')),
    heading, h('div', { class: 'case-top' }, countdown_el, assign_area), facts, error_el,
    h('div', { class: 'case-grid' },
      h('div', { class: 'case-main' },
        request_section,
        section('Triage', 'triage', triage_form, triage_error),
        section('Matches', 'matches-section',
          editable ? h('p', { class: 'inline' }, waterfall_box,
            h('label', { for: 'waterfall' }, ' Offer down the list automatically when an offer is declined or expires')) : null,
          matches_list, excluded, matches_error),
        section('Offers', 'offers-section',
          h('div', { class: 'table-wrap' }, h('table', { id: 'offers' },
            h('thead', {}, h('tr', {}, ['Partner', 'Spokesperson', 'State', 'Sent', 'Answer by', 'Answered', ''].map((t) => h('th', { scope: 'col' }, t)))),
            offers_body)), offers_error),
        editable ? reply_section() : null,
        section('Coverage', 'coverage', coverage.element)),
      h('div', { class: 'case-side' },
        editable ? section('Status', 'status-section', status_area, status_error) : null,
        section('Internal notes', 'notes-section', notes_list, editable ? note_form() : null, notes_error),
        section('Timeline', 'timeline-section', timeline_list))));

  // ---- request and reveal ----
  function render_request(c) {
    if (request_area.dataset.revealed) return;
    const needs = c.needs || {};
    const wanted = Object.entries(needs).filter(([, v]) => v === true || (Array.isArray(v) && v.length))
      .map(([k, v]) => (Array.isArray(v) ? `${k.replaceAll('_', ' ')}: ${v.join(', ')}` : k.replaceAll('_', ' ')));
    const parts = [
      h('p', {}, `Received ${when(c.received_at)} by ${c.source}.`, c.unparsed ? ' The email could not be read automatically: reveal it to read it as it came.' : ''),
      wanted.length ? h('p', {}, 'Asked for: ', wanted.join('; ')) : null,
    ];
    if (c.personal_data_purged_at) {
      parts.push(h('p', { class: 'notice' }, `The journalist's personal data was erased on ${when(c.personal_data_purged_at)}.`));
    } else if (editable) {
      const reason = h('input', { type: 'text', name: 'reason', maxlength: 500, required: true, autocomplete: 'off' });
      const reveal_form = h('form', { class: 'reveal-form', hidden: true },
        field('Reason', reason, 'Why you need to see the journalist\'s details. It is recorded in the reveal audit.'),
        h('button', { type: 'submit' }, 'Reveal'));
      const open_button = h('button', { type: 'button', class: 'secondary' }, 'Reveal contact details');
      open_button.addEventListener('click', () => { reveal_form.hidden = false; open_button.hidden = true; reason.focus(); });
      reveal_form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const body = await busy(reveal_form.querySelector('button'), () => api(`/api/v1/cases/${ref}/reveal`, {
          method: 'POST', body: { reason: reason.value },
        }), request_error);
        if (!body) return;
        request_area.dataset.revealed = '1';
        replace(request_area, h('p', { class: 'hint' }, 'Revealed for you now; recorded in the reveal audit.'), request_view(body.request));
      });
      parts.push(open_button, reveal_form);
    }
    replace(request_area, ...parts);
  }

  // ---- triage ----
  async function render_triage(c) {
    if (triage_dirty) return;
    const t = await taxonomy().catch(() => ({ topics: [], regions: [] }));
    const disabled = !editable;
    const medium = select([['', 'not known'], ...media.map((m) => [m, m])], c.medium || '', { name: 'medium', disabled });
    const topics = h('input', { type: 'text', name: 'topics', value: list_text(c.topics), disabled, list: 'topic-ids', autocomplete: 'off' });
    const regions = h('input', { type: 'text', name: 'regions', value: list_text(c.regions), disabled, list: 'region-ids', autocomplete: 'off' });
    const outlet = h('input', { type: 'text', name: 'outlet', value: c.outlet?.name || '', maxlength: 200, disabled });
    const scope = select([['', 'not known'], ['national', 'national'], ['local', 'local'], ['international', 'international']],
      c.outlet?.scope || '', { name: 'scope', disabled });
    const deadline = h('input', { type: 'datetime-local', name: 'deadline', value: to_london_input(c.deadline), disabled });
    const priority = select(['urgent', 'high', 'normal', 'low'].map((p) => [p, p]), c.priority, { name: 'priority', disabled });
    const corrected = (c.corrected_fields || []).length ? h('p', { class: 'hint' }, `Corrected by staff: ${c.corrected_fields.join(', ')}`) : null;
    replace(triage_form,
      h('datalist', { id: 'topic-ids' }, t.topics.map((x) => h('option', { value: x.id }, x.label))),
      h('datalist', { id: 'region-ids' }, t.regions.map((x) => h('option', { value: x.id }, x.label))),
      field('Medium', medium), field('Outlet', outlet), field('Outlet scope', scope),
      field('Topics', topics, 'Topic ids, separated by commas'), field('Regions', regions, 'Region ids, separated by commas'),
      field('Deadline', deadline, 'London time'), field('Priority', priority), corrected,
      editable ? h('div', { class: 'form-actions' }, h('button', { type: 'submit' }, 'Save triage')) : null);
    triage_form.oninput = () => { triage_dirty = true; };
    triage_form.onsubmit = async (e) => {
      e.preventDefault();
      const before = current;
      const change = {};
      if ((medium.value || null) !== (before.medium || null)) change.medium = medium.value || null;
      if (list_text(parse_list(topics.value)) !== list_text(before.topics)) change.topics = parse_list(topics.value);
      if (list_text(parse_list(regions.value)) !== list_text(before.regions)) change.regions = parse_list(regions.value);
      if (outlet.value.trim() !== (before.outlet?.name || '') || (scope.value || null) !== (before.outlet?.scope || null)) {
        change.outlet = outlet.value.trim() ? { name: outlet.value.trim(), scope: scope.value || null } : null;
      }
      if (deadline.value !== to_london_input(before.deadline)) {
        if (deadline.value && !from_london_input(deadline.value)) { triage_error.textContent = 'deadline: give a date and a time'; return; }
        change.deadline = from_london_input(deadline.value);
      }
      if (priority.value !== before.priority) change.priority = priority.value;
      if (!Object.keys(change).length) { toast('Nothing to save: no field changed'); return; }
      const body = await busy(triage_form.querySelector('button[type=submit]'), () => api(`/api/v1/cases/${ref}/triage`, {
        method: 'PATCH', body: change,
      }), triage_error);
      if (!body) return;
      triage_dirty = false;
      toast('Triage saved');
      show_case(body.case);
      if (matches_loaded) load_matches();
    };
  }

  // ---- matches and offers ----
  async function load_matches() {
    matches_loaded = true;
    try {
      const body = await api(`/api/v1/cases/${ref}/matches`);
      const offered = new Set((current?.offers || []).filter((o) => o.state === 'sent' || o.state === 'accepted')
        .map((o) => `${o.partner.id}:${o.spokesperson?.id ?? ''}`));
      replace(matches_list, body.matches.length ? body.matches.map((m) => {
        const who = m.spokesperson ? `${m.spokesperson.alias} (${m.partner.name})` : `${m.partner.name} (the partner chooses who)`;
        const item = h('li', { class: 'match' },
          h('div', { class: 'match-head' }, h('strong', {}, who), h('span', { class: 'score' }, `score ${m.score.toFixed(2)}`)),
          h('ul', { class: 'reasons' }, m.reasons.map((r) => h('li', {}, r))));
        if (editable) {
          const button = h('button', { type: 'button', class: 'small' }, 'Send offer');
          if (offered.has(`${m.partner.id}:${m.spokesperson?.id ?? ''}`)) { button.disabled = true; button.textContent = 'Offered'; }
          button.addEventListener('click', async () => {
            const sent = await busy(button, () => api(`/api/v1/cases/${ref}/offers`, {
              method: 'POST', body: { partner_id: m.partner.id, spokesperson_id: m.spokesperson ? m.spokesperson.id : null },
            }), matches_error);
            if (sent) { toast(`Offer sent to ${m.partner.name}`); button.disabled = true; button.textContent = 'Offered'; refresh(); }
          });
          item.append(button);
        }
        return item;
      }) : [h('li', { class: 'empty' }, 'No partner or spokesperson matches this request. The reasons are listed below.')]);
      replace(excluded, h('summary', {}, `Not matched (${body.excluded.length})`),
        h('ul', {}, body.excluded.map((x) => h('li', {},
          h('strong', {}, x.spokesperson ? x.spokesperson.alias : x.partner ? x.partner.name : 'unknown'),
          x.partner && x.spokesperson ? ` (${x.partner.name})` : '', ': ', x.reasons.join('; ')))));
    } catch (error) {
      if (error.status === 410 || error.status === 409) replace(matches_list, h('li', { class: 'empty' }, error.body.error || 'No matches.'));
      else show_error(error, matches_error);
    }
  }

  function render_offers(c) {
    waterfall_box.checked = !!c.waterfall;
    if (!c.offers.length) {
      replace(offers_body, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No offers yet.')));
      return;
    }
    replace(offers_body, c.offers.map((o) => {
      const actions = h('td', { class: 'actions' });
      if (editable && o.state === 'sent') {
        const b = h('button', { type: 'button', class: 'small secondary' }, 'Withdraw');
        b.addEventListener('click', async () => {
          const done = await busy(b, () => api(`/api/v1/cases/${ref}/offers/${o.id}/withdraw`, { method: 'POST', body: {} }), offers_error);
          if (done) { toast('Offer withdrawn'); refresh(); }
        });
        actions.append(b);
      }
      if (editable && o.state === 'accepted') {
        const b = h('button', { type: 'button', class: 'small secondary' }, 'Release contact');
        b.addEventListener('click', async () => {
          const done = await busy(b, () => api(`/api/v1/cases/${ref}/offers/${o.id}/release`, { method: 'POST', body: {} }), offers_error);
          if (done) { toast('Contact details sent to the partner and the journalist'); refresh(); }
        });
        actions.append(b);
      }
      return h('tr', { dataset: { offerId: String(o.id) } },
        h('td', {}, o.partner.name), h('td', {}, o.spokesperson ? o.spokesperson.alias : '—'),
        h('td', { class: `offer-state state-${o.state}` }, o.state),
        h('td', {}, when(o.created_at)), h('td', {}, when(o.expires_at)), h('td', {}, when(o.responded_at)), actions);
    }));
  }

  waterfall_box.addEventListener('change', async () => {
    const on = waterfall_box.checked;
    const done = await busy(waterfall_box, () => api(`/api/v1/cases/${ref}/waterfall`, { method: 'PUT', body: { on } }), matches_error);
    if (done) toast(on ? 'Offers will go down the list automatically' : 'Automatic offers are off');
    else waterfall_box.checked = !on;
  });

  // ---- reply, notes, status ----
  function reply_section() {
    const text = h('textarea', { name: 'body', rows: 5, maxlength: 20000, required: true });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'stack-form' }, field('Reply to the journalist', text,
      'Sent by email from the desk, threaded with their request.'), h('button', { type: 'submit' }, 'Send reply'), error);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const done = await busy(form.querySelector('button'), () => api(`/api/v1/cases/${ref}/replies`, {
        method: 'POST', body: { body: text.value },
      }), error);
      if (done) { text.value = ''; toast('Reply queued for sending'); refresh(); }
    });
    return section('Reply', 'reply', form);
  }

  function note_form() {
    const text = h('textarea', { name: 'text', rows: 3, maxlength: 5000, required: true });
    const form = h('form', { class: 'stack-form' }, field('Note', text, 'Seen by staff only; stored encrypted.'),
      h('button', { type: 'submit' }, 'Add note'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const done = await busy(form.querySelector('button'), () => api(`/api/v1/cases/${ref}/notes`, {
        method: 'POST', body: { text: text.value },
      }), notes_error);
      if (done) { text.value = ''; toast('Note added'); load_notes(); }
    });
    return form;
  }

  async function load_notes() {
    if (!editable) { replace(notes_list, h('li', { class: 'hint' }, 'Notes are visible to staff only.')); return; }
    try {
      const body = await api(`/api/v1/cases/${ref}/notes`);
      replace(notes_list, body.notes.length ? body.notes.map((n) => h('li', {},
        h('p', { class: 'meta' }, `${n.author?.label || 'someone'} · ${when(n.at)}`),
        n.purged ? h('p', { class: 'hint' }, 'Erased with the case\'s personal data.') : h('p', { class: 'pre' }, n.text))) :
        [h('li', { class: 'hint' }, 'No notes yet.')]);
    } catch (error) {
      show_error(error, notes_error);
    }
  }

  function render_status(c) {
    if (!editable) return;
    const options = c.next_statuses || [];
    if (!options.length) { replace(status_area, h('p', { class: 'hint' }, 'This case is closed.')); return; }
    const move = select(options.map((s) => [s, status_label(s)]), options[0], { name: 'status' });
    const button = h('button', { type: 'button' }, 'Change status');
    button.addEventListener('click', async () => {
      const done = await busy(button, () => api(`/api/v1/cases/${ref}/status`, { method: 'POST', body: { status: move.value } }), status_error);
      if (done) { toast(`Status changed to ${status_label(done.status)}`); refresh(); }
    });
    replace(status_area, field('Move to', move), button);
  }

  async function render_assign(c) {
    const who = c.assignee ? (c.assignee.id === session.user_id ? 'you' : c.assignee.label) : 'nobody';
    const parts = [h('span', {}, 'Assigned to ', h('strong', { class: 'assignee' }, who))];
    if (editable) {
      const mine = c.assignee && c.assignee.id === session.user_id;
      const b = h('button', { type: 'button', class: 'small secondary' }, mine ? 'Unassign' : 'Assign to me');
      b.addEventListener('click', async () => {
        const done = await busy(b, () => api(`/api/v1/cases/${ref}/assignee`, {
          method: 'PUT', body: { user_id: mine ? null : session.user_id },
        }), error_el);
        if (done) { toast(mine ? 'Unassigned' : 'Assigned to you'); refresh(); }
      });
      parts.push(' ', b);
    }
    replace(assign_area, ...parts);
  }

  function render_timeline(c) {
    replace(timeline_list, [...c.timeline].reverse().map((e) => h('li', {},
      h('p', { class: 'meta' }, `${when(e.at)} · ${e.actor}`),
      h('p', {}, h('strong', {}, e.kind.replaceAll('_', ' ')), timeline_text(e) ? ` — ${timeline_text(e)}` : ''))));
  }

  function show_case(c) {
    current = c;
    status_el.textContent = c.status;
    status_el.dataset.status = c.status;
    proactive_el.hidden = !c.proactive;
    heading.setAttribute('aria-label', `Case ${ref}, ${status_label(c.status)}${c.proactive ? ', proactive' : ''}`);
    paint_countdown(countdown_el, c.deadline);
    document.title = `${ref} – MediaDesk`;
    replace(facts,
      h('dt', {}, 'Priority'), h('dd', { class: `priority-${c.priority}` }, c.priority),
      h('dt', {}, 'Deadline'), h('dd', {}, when(c.deadline)),
      h('dt', {}, 'Outlet'), h('dd', {}, c.outlet?.name ? `${c.outlet.name}${c.outlet.scope ? ` (${c.outlet.scope})` : ''}` : '—'),
      h('dt', {}, 'Medium'), h('dd', {}, c.medium || '—'),
      h('dt', {}, 'Aim to offer by'), h('dd', {}, when(c.target_at)));
    render_request(c);
    render_triage(c);
    render_offers(c);
    render_status(c);
    render_assign(c);
    render_timeline(c);
    coverage.update_case(c);
  }

  async function refresh() {
    try {
      const body = await api(`/api/v1/cases/${ref}`);
      show_case(body.case);
    } catch (error) {
      if (error.status === 404) replace(container, h('h2', {}, 'No such case'), h('p', {}, `There is no case ${ref}.`), h('a', { href: '#/queue' }, 'Back to the queue'));
      else if (error.status !== 401) show_error(error, error_el);
    }
  }

  const ticker = setInterval(() => { if (current) paint_countdown(countdown_el, current.deadline); }, 15000);
  users();  // warm the staff list for labels
  refresh().then(() => { if (current) { load_matches(); load_notes(); coverage.load(); } });
  return {
    on_event(event) {
      if (event.type === 'case_changed' && event.ref !== ref) return;
      refresh();
      if (event.type !== 'cases_changed') { load_notes(); coverage.load(); }
    },
    destroy() { clearInterval(ticker); },
  };
}
