// The case page's coverage: the pieces logged for this case (GET .../coverage, oldest first) and,
// for staff, the form that logs one (POST .../coverage). The spokesperson is one of the people
// the case's offers named; "first time" only makes sense with a spokesperson. Links are shown
// as links only when they are http(s); every other value is text.
import { api } from './api.js';
import { london_day, safe_link } from './report_data.js';
import { field, field_errors, h, replace, select, send_form, show_error, toast, when } from './ui.js';

const media = ['tv', 'radio', 'print', 'online', 'podcast'];
const tone_words = { positive: 'positive', balanced: 'balanced', negative: 'negative' };

function day_text(day) {
  return /^\d{4}-\d{2}-\d{2}$/.test(day || '')
    ? new Date(`${day}T12:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })
    : day || '—';
}

function coverage_item(c) {
  const link = safe_link(c.link);
  const title = c.headline || c.outlet_name;
  return h('li', { class: 'coverage-item', dataset: { coverageId: String(c.id) } },
    h('p', { class: 'coverage-title' }, link ? h('a', { href: link, rel: 'noopener noreferrer', target: '_blank' }, title) : h('strong', {}, title)),
    h('p', { class: 'meta' }, [
      c.headline ? c.outlet_name : null, day_text(c.appeared_on), c.outlet_scope, c.medium, `tone ${tone_words[c.tone] || c.tone}`,
    ].filter(Boolean).join(' · ')),
    h('p', { class: 'coverage-facts' }, [
      c.lived_experience_quoted ? 'Lived experience quoted' : 'No lived experience quoted',
      c.spokesperson ? `Spokesperson: ${c.spokesperson.alias}${c.first_time ? ' (first time)' : ''}` : null,
    ].filter(Boolean).join(' · ')),
    link ? null : c.link ? h('p', { class: 'meta pre' }, `Link: ${c.link}`) : null,
    h('p', { class: 'meta' }, `Logged ${when(c.created_at)}${recorder(c.recorded_by)}`));
}

function recorder(who) {
  if (who && typeof who === 'object' && who.label) return ` by ${who.label}`;
  return typeof who === 'string' && who ? ` by ${who}` : '';
}

export function coverage_section(ref, editable) {
  const list = h('ul', { id: 'coverage-list', class: 'coverage-list', 'aria-live': 'polite' });
  const list_error = h('p', { class: 'error', role: 'alert' });
  const parts = [list, list_error];
  let spokesperson = null;
  let people_key = '';

  if (editable) {
    const outlet = h('input', { type: 'text', id: 'cov-outlet', name: 'outlet_name', maxlength: 200, required: true, autocomplete: 'off' });
    const scope = select([['', 'choose'], ['national', 'national'], ['local', 'local'], ['international', 'international']], '',
      { id: 'cov-scope', name: 'outlet_scope', required: true });
    const medium = select([['', 'choose'], ...media.map((m) => [m, m])], '', { id: 'cov-medium', name: 'medium', required: true });
    const appeared = h('input', { type: 'date', id: 'cov-date', name: 'appeared_on', required: true, value: london_day(), max: london_day() });
    const link = h('input', { type: 'url', id: 'cov-link', name: 'link', maxlength: 2000, placeholder: 'https://', autocomplete: 'off' });
    const headline = h('input', { type: 'text', id: 'cov-headline', name: 'headline', maxlength: 300, autocomplete: 'off' });
    const lived = h('input', { type: 'checkbox', id: 'cov-lived', name: 'lived_experience_quoted' });
    spokesperson = select([['', 'none']], '', { id: 'cov-spokesperson', name: 'spokesperson_id' });
    const first = h('input', { type: 'checkbox', id: 'cov-first', name: 'first_time', disabled: true });
    const tone = select([['', 'choose'], ['positive', 'positive'], ['balanced', 'balanced'], ['negative', 'negative']], '',
      { id: 'cov-tone', name: 'tone', required: true });
    const form_error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { id: 'coverage-form', class: 'grid-form', novalidate: true, 'aria-labelledby': 'coverage-form-heading' },
      h('h4', { id: 'coverage-form-heading', class: 'form-title' }, 'Log coverage'),
      field('Outlet', outlet), field('Reach', scope), field('Medium', medium), field('Date it appeared', appeared),
      field('Link', link, 'Optional; http or https'), field('Headline', headline, 'Optional'),
      field('Spokesperson', spokesperson, 'From this case\'s offers'), field('Tone', tone),
      h('div', { class: 'field checks' },
        h('p', { class: 'inline' }, lived, h('label', { for: 'cov-lived' }, 'Lived experience was quoted')),
        h('p', { class: 'inline' }, first, h('label', { for: 'cov-first' }, 'The spokesperson\'s first time in the media'))),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit' }, 'Log coverage')),
      form_error);
    const errors = field_errors(form);
    spokesperson.addEventListener('change', () => {
      first.disabled = !spokesperson.value;
      if (first.disabled) first.checked = false;
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      errors.clear();
      form_error.textContent = '';
      // The form's own checks first, each said under its field (the server checks again).
      for (const [name, ok, text] of [
        ['outlet_name', outlet.value.trim(), 'Name the outlet.'],
        ['outlet_scope', scope.value, 'Choose national, local or international.'],
        ['medium', medium.value, 'Choose the medium.'],
        ['appeared_on', /^\d{4}-\d{2}-\d{2}$/.test(appeared.value), 'Give the date it appeared.'],
        ['link', !link.value.trim() || safe_link(link.value.trim()), 'A link starts with http:// or https://.'],
        ['tone', tone.value, 'Choose the tone.'],
      ]) {
        if (!ok) { errors.show(name, text); form_error.textContent = 'Check the form.'; return; }
      }
      const body = {
        outlet_name: outlet.value.trim(), outlet_scope: scope.value, medium: medium.value, appeared_on: appeared.value,
        lived_experience_quoted: lived.checked, tone: tone.value,
        spokesperson_id: spokesperson.value ? Number(spokesperson.value) : null,
        first_time: !!spokesperson.value && first.checked,
      };
      if (link.value.trim()) body.link = link.value.trim();
      if (headline.value.trim()) body.headline = headline.value.trim();
      const made = await send_form(form.querySelector('button[type=submit]'),
        () => api(`/api/v1/cases/${ref}/coverage`, { method: 'POST', body }), form_error, errors);
      if (!made) return;
      for (const control of [outlet, link, headline]) control.value = '';
      for (const control of [scope, medium, tone, spokesperson]) control.value = '';
      lived.checked = false;
      first.checked = false;
      first.disabled = true;
      appeared.value = london_day();
      toast(made.aftercare ? 'Coverage logged; an aftercare check-in is due' : 'Coverage logged');
      load();
    });
    parts.push(form);
  }

  async function load() {
    try {
      const body = await api(`/api/v1/cases/${ref}/coverage`);
      replace(list, body.coverage.length ? body.coverage.map(coverage_item) : [h('li', { class: 'empty' }, 'No coverage logged yet.')]);
      list_error.textContent = '';
    } catch (error) {
      if (error.status === 410) replace(list, h('li', { class: 'empty' }, 'This case\'s details were erased.'));
      else if (error.status !== 401) show_error(error, list_error);
    }
  }

  // The spokespeople this case's offers named, most recent offer's first; the choice survives refreshes.
  function update_case(c) {
    if (!spokesperson) return;
    const seen = new Map();
    for (const o of [...(c.offers || [])].reverse()) {
      if (o.spokesperson && !seen.has(o.spokesperson.id)) seen.set(o.spokesperson.id, { ...o.spokesperson, state: o.state });
    }
    const key = [...seen.keys()].join(',');
    if (key === people_key) return;
    people_key = key;
    const chosen = spokesperson.value;
    replace(spokesperson, h('option', { value: '' }, 'none'),
      [...seen.values()].map((p) => h('option', { value: String(p.id), selected: String(p.id) === chosen },
        p.alias)));
  }

  return { element: parts, load, update_case };
}
