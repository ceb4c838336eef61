// Pure helpers for the reports pages (no DOM, no fetch; unit-tested in tests/web): London calendar
// days and default periods, figures and their change on the previous period in words, and the
// shaping of GET /api/v1/reports lists into chart series (current beside previous).

// "YYYY-MM-DD" of an instant in London.
export function london_day(ms = Date.now()) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export const day_pattern = /^\d{4}-\d{2}-\d{2}$/;

// The server's default too: 1 January of the current London year to today (London), inclusive.
export function default_period(now = Date.now()) {
  const today = london_day(now);
  return { from: `${today.slice(0, 4)}-01-01`, to: today };
}

// An annual review's two periods: the year (up to today while it is still running) and the same
// stretch of the year before, so that "up X% on last year" compares like with like.
export function annual_periods(year, now = Date.now()) {
  const today = london_day(now);
  const running = Number(today.slice(0, 4)) === year;
  const end = running ? today.slice(5) : '12-31';
  const last_end = end === '02-29' ? '02-28' : end;
  return {
    running,
    current: { from: `${year}-01-01`, to: `${year}-${end}` },
    last: { from: `${year - 1}-01-01`, to: `${year - 1}-${last_end}` },
  };
}

const number_format = new Intl.NumberFormat('en-GB');

// Minutes as "42 min", "3 h 5 min" or "2 d 4 h"; null (no data) as a dash.
export function format_minutes(minutes) {
  if (minutes === null || minutes === undefined || Number.isNaN(minutes)) return '—';
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  if (m < 48 * 60) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h`;
}

// kind: 'count' (a whole number), 'share' (0..1, shown as a percentage), 'minutes' (a duration).
export function format_figure(value, kind = 'count') {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (kind === 'share') return `${Math.round(value * 100)}%`;
  if (kind === 'minutes') return format_minutes(value);
  return number_format.format(value);
}

// How a figure moved since the previous period, in words (never colour alone): direction is
// 'up', 'down', 'same' or 'none' (nothing to compare). Shares move in percentage points.
export function change_of(current, previous, kind = 'count') {
  const missing = (v) => v === null || v === undefined || Number.isNaN(v);
  if (missing(current) || missing(previous)) return { direction: 'none', text: 'no comparison' };
  if (kind === 'share') {
    const points = Math.round((current - previous) * 100);
    if (points === 0) return { direction: 'same', text: 'no change' };
    return { direction: points > 0 ? 'up' : 'down', text: `${points > 0 ? 'up' : 'down'} ${Math.abs(points)} points` };
  }
  if (kind === 'minutes') {
    const diff = Math.round(current) - Math.round(previous);
    if (diff === 0) return { direction: 'same', text: 'no change' };
    return { direction: diff > 0 ? 'up' : 'down', text: `${format_minutes(Math.abs(diff))} ${diff > 0 ? 'slower' : 'faster'}` };
  }
  if (current === previous) return { direction: 'same', text: 'no change' };
  if (previous === 0) return { direction: 'up', text: `up from 0` };
  const percent = Math.round(((current - previous) / previous) * 100);
  if (percent === 0) return { direction: current > previous ? 'up' : 'down', text: `${current > previous ? 'up' : 'down'} less than 1%` };
  return { direction: percent > 0 ? 'up' : 'down', text: `${percent > 0 ? 'up' : 'down'} ${Math.abs(percent)}%` };
}

// "requests received up 25% on last year" and its variants, for the annual summary.
export function year_on_year(what, current, previous) {
  if (!previous) return current ? `${what}: ${number_format.format(current)}, none recorded the year before` : `no ${what} yet`;
  const c = change_of(current, previous);
  if (c.direction === 'same') return `${what} the same as last year`;
  return `${what} ${c.text} on last year`;
}

// Two by_* lists ([{key, count}]) as one series: the keys of both, the current period's biggest
// first (then the previous period's, then by key), at most `limit`; `label` names each key.
export function pair_series(current = [], previous = [], { limit = 12, label = (k) => k } = {}) {
  const now = new Map(current.map((x) => [x.key, x.count]));
  const before = new Map(previous.map((x) => [x.key, x.count]));
  const keys = [...new Set([...now.keys(), ...before.keys()])].sort((a, b) =>
    (now.get(b) ?? 0) - (now.get(a) ?? 0) || (before.get(b) ?? 0) - (before.get(a) ?? 0) || String(a).localeCompare(String(b)));
  const shown = keys.slice(0, limit);
  return {
    keys: shown,
    labels: shown.map((k) => label(k)),
    current: shown.map((k) => now.get(k) ?? 0),
    previous: shown.map((k) => before.get(k) ?? 0),
    left_out: keys.length - shown.length,
  };
}

// "YYYY-MM" of every month a period touches, in order.
export function months_between(from, to) {
  const out = [];
  let y = Number(from.slice(0, 4));
  let m = Number(from.slice(5, 7));
  const end_y = Number(to.slice(0, 4));
  const end_m = Number(to.slice(5, 7));
  while (y < end_y || (y === end_y && m <= end_m)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    m += 1;
    if (m > 12) { m = 1; y += 1; }
    if (out.length > 240) break;  // twenty years: the API's limit is ten
  }
  return out;
}

const month_names = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function month_label(key) {
  const m = Number(key.slice(5, 7));
  return `${month_names[m - 1] ?? key} ${key.slice(0, 4)}`;
}

// Coverage by month: every month of the period (months without coverage count 0), the previous
// period's months beside them by position (its first month beside this period's first month).
export function month_series(period, previous_period, current = [], previous = []) {
  const now = months_between(period.from, period.to);
  const before = previous_period ? months_between(previous_period.from, previous_period.to) : [];
  const counts_now = new Map(current.map((x) => [x.key, x.count]));
  const counts_before = new Map(previous.map((x) => [x.key, x.count]));
  const length = Math.max(now.length, before.length);
  const labels = [];
  const previous_labels = [];
  for (let i = 0; i < length; i += 1) {
    labels.push(now[i] ? month_label(now[i]) : `(${month_label(before[i])})`);
    previous_labels.push(before[i] ? month_label(before[i]) : '');
  }
  return {
    keys: now,
    labels,
    previous_labels,
    current: Array.from({ length }, (_, i) => (now[i] ? counts_now.get(now[i]) ?? 0 : 0)),
    previous: Array.from({ length }, (_, i) => (before[i] ? counts_before.get(before[i]) ?? 0 : 0)),
    left_out: 0,
  };
}

// "1 Jan 2026 – 29 Nov 2026" for a period of London days.
export function period_label(period) {
  const day = (d) => `${Number(d.slice(8, 10))} ${month_names[Number(d.slice(5, 7)) - 1]} ${d.slice(0, 4)}`;
  return period ? `${day(period.from)} – ${day(period.to)}` : '';
}

// The link for the CSV export of a period.
export function csv_href(period) {
  return `/api/v1/reports.csv?from=${encodeURIComponent(period.from)}&to=${encodeURIComponent(period.to)}`;
}

// A URL for a coverage link only when it is http(s): anything else (javascript:, data:) is shown as text.
export function safe_link(url) {
  return typeof url === 'string' && /^https?:\/\/[^\s]+$/i.test(url) ? url : null;
}
