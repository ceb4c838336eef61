// Dashboard building blocks: elements made with textContent only (request text can never become
// HTML), London-time formatting, deadline countdowns, and the status/error messages.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Case references are the only values that go into links: checked against their exact shape.
export const case_ref_pattern = /^MD-\d{4}-\d{6}$/;
export function case_link(ref) {
  return case_ref_pattern.test(ref) ? h('a', { href: `#/case/${ref}` }, ref) : h('span', {}, ref);
}

const london_format = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London', weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});
export function when(iso) {
  return iso ? london_format.format(new Date(iso)) : '—';
}

// Minutes between London wall time and UTC at an instant (0 in winter, 60 in summer).
function london_offset_minutes(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
  return Math.round((wall - Math.floor(ms / 60000) * 60000) / 60000);
}

// ISO instant -> "YYYY-MM-DDTHH:MM" in London, for <input type="datetime-local">.
export function to_london_input(iso) {
  if (!iso) return '';
  const ms = new Date(iso).getTime();
  return new Date(ms + london_offset_minutes(ms) * 60000).toISOString().slice(0, 16);
}

// "YYYY-MM-DDTHH:MM" read as London wall time -> ISO instant (null when empty or malformed).
export function from_london_input(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(text || '');
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let utc = wall - london_offset_minutes(wall) * 60000;
  utc = wall - london_offset_minutes(utc) * 60000;  // once more, in case the guess crossed a clock change
  return new Date(utc).toISOString().replace('.000Z', 'Z');
}

// Time left to a deadline: the words and how urgent it looks (red under 30 minutes or past,
// amber under two hours).
export function countdown(iso, now = Date.now()) {
  if (!iso) return { text: 'no deadline', level: '' };
  const left = new Date(iso).getTime() - now;
  const minutes = Math.round(Math.abs(left) / 60000);
  const span = minutes < 60 ? `${minutes} min`
    : minutes < 48 * 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min`
      : `${Math.floor(minutes / 1440)} d ${Math.floor((minutes % 1440) / 60)} h`;
  const level = left < 30 * 60000 ? 'red' : left < 2 * 3600000 ? 'amber' : '';
  return { text: left < 0 ? `overdue by ${span}` : `${span} left`, level };
}

export function paint_countdown(el, iso) {
  const { text, level } = countdown(iso);
  el.textContent = text;
  el.classList.toggle('amber', level === 'amber');
  el.classList.toggle('red', level === 'red');
}

const status_words = {
  new: 'new', triaged: 'triaged', offered: 'offered', accepted: 'accepted', fulfilled: 'fulfilled',
  no_match: 'no match', declined: 'declined by the desk', withdrawn: 'withdrawn',
};
export const statuses = Object.keys(status_words);
export const status_label = (s) => status_words[s] || s;

let toast_timer = null;
export function toast(text) {
  const el = document.getElementById('toast');
  el.textContent = text;
  clearTimeout(toast_timer);
  toast_timer = setTimeout(() => { el.textContent = ''; }, 6000);
}

// Shows what went wrong in words: the server's message and the field it names.
export function show_error(error, where = document.getElementById('error')) {
  const body = error && error.body;
  let text = body && body.error ? body.error : (error && error.message) || 'Something went wrong.';
  if (body && body.field && body.field !== '$') text = `${body.field}: ${text}`;
  if (error && error.status === 403 && !(body && body.error)) text = 'Your role cannot do this.';
  where.textContent = text;
  return text;
}

export function clear_error(where = document.getElementById('error')) {
  where.textContent = '';
}

// A labelled form control: <label for> + control, wrapped so forms lay out as a grid.
let next_id = 0;
export function field(label_text, control, hint) {
  control.id ||= `f${++next_id}`;
  return h('div', { class: 'field' },
    h('label', { for: control.id }, label_text),
    hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null,
    control);
}

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

// Runs an action with its button disabled, reporting errors; returns the action's value or undefined.
export async function busy(button, action, error_el) {
  if (button) button.disabled = true;
  clear_error(error_el || undefined);
  try {
    return await action();
  } catch (error) {
    show_error(error, error_el || undefined);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// A field's error under it, named by the server's 400 {"field"} or by the form's own checks;
// controls are found by their name attribute, which is the API's field name.
export function field_errors(form) {
  const shown = [];
  return {
    clear() {
      for (const [control, p] of shown.splice(0)) { control.removeAttribute('aria-invalid'); control.removeAttribute('aria-describedby'); p.remove(); }
    },
    show(name, text) {
      const control = [...form.elements].find((el) => el.name === name);
      if (!control) return false;
      const p = h('p', { class: 'error field-error', id: `${control.id}-error` }, text);
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', p.id);
      (control.closest('.field') || control.parentElement).append(p);
      shown.push([control, p]);
      control.focus();
      return true;
    },
  };
}

// Sends a form's action with its button disabled; a 400 naming a field shows under that field.
export async function send_form(button, action, error_el, errors) {
  if (button) button.disabled = true;
  errors.clear();
  clear_error(error_el);
  try {
    return await action();
  } catch (error) {
    const name = error?.body?.field;
    if (error?.status === 400 && name && name !== '$' && errors.show(name, error.body.error || 'Check this field.')) {
      error_el.textContent = `Check the form: ${name.replaceAll('_', ' ')}: ${error.body.error || 'not valid'}`;
    } else {
      show_error(error, error_el);
    }
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
