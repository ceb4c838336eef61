// Registry pages: partners, spokespeople with their consents (withdrawal in one action, expiry
// warnings), consents coming to an end, and the reveal audit for admins. Personal fields are
// never fetched here: lists show aliases and what is set, not the values.
import { api, can_change, is_admin, query, users } from './api.js';
import { busy, case_link, h, replace, show_error, toast, when } from './ui.js';

const soon_days = 30;

function table(id, headings, rows, empty_text) {
  if (!rows.length) return h('p', { class: 'empty' }, empty_text);
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

function days_until(iso) {
  return iso ? (new Date(iso).getTime() - Date.now()) / 86400000 : Infinity;
}

function search_box(label, on_input) {
  const input = h('input', { type: 'search', id: 'registry-search', autocomplete: 'off' });
  input.addEventListener('input', () => on_input(input.value.trim().toLowerCase()));
  return h('div', { class: 'field inline-field' }, h('label', { for: 'registry-search' }, label), input);
}

export function partners_view(container) {
  const list = h('div');
  let all = [];
  const draw = (needle = '') => {
    const shown = all.filter((p) => !needle || `${p.name} ${p.key} ${p.regions.join(' ')} ${p.topics.join(' ')}`.toLowerCase().includes(needle));
    replace(list, table('partners', ['Partner', 'Key', 'Regions', 'Topics', 'Languages', 'Away until', 'Contact on file'],
      shown.map((p) => h('tr', { dataset: { id: String(p.id) } },
        h('td', {}, p.name), h('td', {}, p.key || '—'), h('td', {}, p.regions.join(', ')), h('td', {}, p.topics.join(', ')),
        h('td', {}, p.languages.join(', ') || '—'),
        h('td', { class: p.away_until && days_until(p.away_until) > 0 ? 'amber' : '' }, p.away_until ? when(p.away_until) : '—'),
        h('td', {}, p.contact.email_set ? 'yes' : h('strong', { class: 'warn' }, 'no email')))),
      'No partners yet. Import them with `mediadesk import partners FILE.csv`.'));
  };
  replace(container, h('h2', {}, 'Partners'), search_box('Search partners', draw), list);
  api('/api/v1/partners').then((b) => { all = b.partners; draw(); }).catch((e) => show_error(e));
  return { on_event() {}, destroy() {} };
}

function consent_summary(c) {
  return `${c.media.join(', ')} · ${c.identification} · ${c.topics.length ? c.topics.join(', ') : 'any topic'}`;
}

function consent_state_cell(c) {
  const left = days_until(c.expires_at);
  if (c.state === 'live' && left < soon_days) {
    return h('td', { class: left < 7 ? 'red' : 'amber' }, `live, ends ${when(c.expires_at)}`);
  }
  return h('td', { class: `consent-${c.state}` }, c.state);
}

function withdraw_button(person_id, consent, after) {
  const button = h('button', { type: 'button', class: 'small danger' }, 'Withdraw consent');
  button.addEventListener('click', async () => {
    const done = await busy(button, () => api(`/api/v1/spokespeople/${person_id}/consents/${consent.consent_id ?? consent.id}/withdraw`, {
      method: 'POST', body: {},
    }));
    if (done) { toast('Consent withdrawn; open offers on it are withdrawn too'); after(); }
  });
  return button;
}

export function spokespeople_view(container, id) {
  if (id) return spokesperson_view(container, id);
  const list = h('div');
  let all = [];
  let partner_names = new Map();
  const draw = (needle = '') => {
    const shown = all.filter((s) => !needle || `${s.alias} ${s.key || ''} ${s.regions.join(' ')} ${s.topics.join(' ')}`.toLowerCase().includes(needle));
    replace(list, table('spokespeople', ['Alias', 'Partner', 'Regions', 'Topics', 'Languages', 'Per month'],
      shown.map((s) => h('tr', { dataset: { id: String(s.id) } },
        h('td', {}, s.erased_at ? `${s.alias} (erased)` : h('a', { href: `#/spokespeople/${Number(s.id)}` }, s.alias)),
        h('td', {}, partner_names.get(s.partner_id) || '—'), h('td', {}, s.regions.join(', ')), h('td', {}, s.topics.join(', ')),
        h('td', {}, s.languages.join(', ') || '—'), h('td', {}, s.max_per_month ?? '—'))),
      'No spokespeople yet. Import them with `mediadesk import spokespeople FILE.csv`.'));
  };
  replace(container, h('h2', {}, 'Spokespeople'), search_box('Search spokespeople', draw), list);
  Promise.all([api('/api/v1/spokespeople'), api('/api/v1/partners')]).then(([s, p]) => {
    partner_names = new Map(p.partners.map((x) => [x.id, x.name]));
    all = s.spokespeople;
    draw();
  }).catch((e) => show_error(e));
  return { on_event() {}, destroy() {} };
}

function spokesperson_view(container, id) {
  const body = h('div');
  const load = async () => {
    try {
      const [person, consents] = await Promise.all([api(`/api/v1/spokespeople/${id}`), api(`/api/v1/spokespeople/${id}/consents`)]);
      const s = person.spokesperson;
      replace(body,
        h('h2', {}, s.alias),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Regions'), h('dd', {}, s.regions.join(', ') || '—'),
          h('dt', {}, 'Topics'), h('dd', {}, s.topics.join(', ') || '—'),
          h('dt', {}, 'Languages'), h('dd', {}, s.languages.join(', ') || '—'),
          h('dt', {}, 'Offers per month at most'), h('dd', {}, s.max_per_month ?? 'no limit'),
          h('dt', {}, 'Personal details on file'), h('dd', {}, Object.entries(s.personal).filter(([, v]) => v)
            .map(([k]) => k.replace('_set', '').replaceAll('_', ' ')).join(', ') || 'none')),
        h('h3', {}, 'Consents'),
        table('consents', ['Covers', 'Granted', 'Ends', 'State', ''], consents.consents.map((c) => h('tr', { dataset: { id: String(c.id) } },
          h('td', {}, consent_summary(c)), h('td', {}, when(c.granted_at)), h('td', {}, c.expires_at ? when(c.expires_at) : 'no end date'),
          consent_state_cell(c),
          h('td', {}, can_change() && c.state === 'live' ? withdraw_button(id, c, load) : null))),
        'No consent recorded: this person cannot be offered.'));
    } catch (error) {
      if (error.status === 404) replace(body, h('h2', {}, 'No such spokesperson'));
      else show_error(error);
    }
  };
  replace(container, h('p', {}, h('a', { href: '#/spokespeople' }, '← Spokespeople')), body);
  load();
  return { on_event() {}, destroy() {} };
}

export function consents_view(container) {
  const body = h('div');
  const load = async () => {
    try {
      const b = await api(`/api/v1/consents/expiring${query({ within_days: soon_days })}`);
      replace(body, table('expiring', ['Spokesperson', 'Ends', 'Reminder sent', ''], b.consents.map((c) => h('tr', {},
        h('td', {}, h('a', { href: `#/spokespeople/${Number(c.spokesperson.id)}` }, c.spokesperson.alias)),
        h('td', { class: days_until(c.expires_at) < 7 ? 'red' : 'amber' }, when(c.expires_at)),
        h('td', {}, c.reminded_at ? when(c.reminded_at) : 'not yet'),
        h('td', {}, can_change() ? withdraw_button(c.spokesperson.id, c, load) : null))),
      `No consent ends in the next ${soon_days} days.`));
    } catch (error) {
      show_error(error);
    }
  };
  replace(container, h('h2', {}, 'Consents ending soon'),
    h('p', { class: 'hint' }, `Live consents that end within ${soon_days} days. Ask the partner to renew them with the person, or withdraw them.`),
    body);
  load();
  return { on_event() {}, destroy() {} };
}

export function audit_view(container) {
  if (!is_admin()) {
    replace(container, h('h2', {}, 'Reveal audit'), h('p', {}, 'Only admins can read the reveal audit.'));
    return { on_event() {}, destroy() {} };
  }
  const rows = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older entries');
  let labels = new Map();
  let last = null;
  const load = async () => {
    try {
      const page = await api(`/api/v1/audit/reveals${query(last ? { before: last.at, before_id: last.id } : {})}`);
      rows.append(...page.reveals.map((r) => h('tr', {},
        h('td', {}, when(r.at)), h('td', {}, labels.get(r.user_id) || `user ${r.user_id}`),
        h('td', {}, r.subject.startsWith('case:') ? ['case ', case_link(r.subject.slice(5))] : r.subject),
        h('td', {}, r.fields.join(', ')), h('td', { class: 'pre' }, r.reason ?? ''))));
      last = page.reveals.at(-1) || last;
      more.hidden = page.reveals.length < 200;
      if (!rows.children.length) rows.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'Nobody has revealed personal data yet.')));
    } catch (error) {
      show_error(error);
    }
  };
  more.addEventListener('click', load);
  replace(container, h('h2', {}, 'Reveal audit'),
    h('p', { class: 'hint' }, 'Every time someone saw personal data: who, when, what and why. Entries cannot be changed or deleted.'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'audit' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Whose data', 'Fields', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))), rows)),
    more);
  users().then((list) => { labels = new Map(list.map((u) => [u.id, u.label])); load(); });
  return { on_event() {}, destroy() {} };
}
