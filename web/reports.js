// The reports (#/reports?from=&to=) and the printable annual summary (#/reports/annual?year=):
// figures beside the previous period's, Chart.js charts with tables as their text alternative,
// partner responsiveness, triage accuracy and the CSV export. Read only (viewer and up).
import { api, query, taxonomy } from './api.js';
import { chart_figure, destroy_charts, draw_charts } from './charts.js';
import {
  annual_periods, change_of, csv_href, day_pattern, default_period, format_figure, london_day, month_series, pair_series,
  period_label, year_on_year,
} from './report_data.js';
import { h, replace, show_error } from './ui.js';

const scope_words = { national: 'National', local: 'Local', international: 'International' };
const medium_words = { tv: 'TV', radio: 'Radio', print: 'Print', online: 'Online', podcast: 'Podcast' };
const tone_words = { positive: 'Positive', balanced: 'Balanced', negative: 'Negative' };
const field_words = { medium: 'Medium', topics: 'Topics', regions: 'Regions', outlet: 'Outlet', deadline: 'Deadline', priority: 'Priority' };

const get = (object, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), object);

// Topic and region ids shown by their taxonomy labels (ids when the taxonomy is not there).
async function labellers() {
  const t = await taxonomy().catch(() => ({ topics: [], regions: [] }));
  const topics = new Map(t.topics.map((x) => [x.id, x.label]));
  const regions = new Map(t.regions.map((x) => [x.id, x.label]));
  return { topic: (k) => topics.get(k) || k, region: (k) => regions.get(k) || k };
}

function tile(id, label, current, previous, kind = 'count', previous_name = 'previous period') {
  const c = change_of(current, previous, kind);
  const arrow = { up: '▲ ', down: '▼ ', same: '= ' }[c.direction] || '';
  return h('div', { class: 'tile', dataset: { figure: id } },
    h('p', { class: 'tile-label' }, label),
    h('p', { class: 'tile-value' }, format_figure(current, kind)),
    h('p', { class: 'tile-previous' }, `${previous_name}: ${format_figure(previous, kind)}`),
    h('p', { class: `tile-change change-${c.direction}` }, h('span', { 'aria-hidden': 'true' }, arrow), c.text));
}

const tile_list = [
  ['received', 'Requests received', 'requests.received'],
  ['taken_on', 'Taken on', 'requests.taken_on'],
  ['fulfilled', 'Fulfilled', 'requests.fulfilled'],
  ['no_match', 'No match found', 'requests.no_match'],
  ['proactive', 'Proactive cases', 'cases.proactive'],
  ['coverage', 'Pieces of coverage', 'coverage.total'],
  ['national', 'National coverage', 'coverage.national'],
  ['lived_experience', 'Lived experience quoted', 'coverage.lived_experience_quoted'],
  ['voices', 'Voices heard', 'voices.spokespeople'],
  ['first_time', 'First-time voices', 'voices.first_time'],
  ['to_first_offer', 'Median time to first offer', 'timings.median_minutes_to_first_offer', 'minutes'],
  ['to_fulfilment', 'Median time to fulfilment', 'timings.median_minutes_to_fulfilment', 'minutes'],
  ['accept_rate', 'Partner accept rate', 'partners.accept_rate', 'share'],
  ['to_response', 'Median partner response', 'partners.median_minutes_to_response', 'minutes'],
  ['corrected', 'Cases with triage corrected', 'triage.corrected_share', 'share'],
];

// The charts both pages draw, from one report: [id, title, series, horizontal].
function chart_specs(report, label, names, which = 'all') {
  const c = report.current;
  const p = report.previous;
  const specs = [
    ['chart-by-month', 'Coverage by month',
      month_series(report.period, report.previous_period, c.coverage.by_month, p.coverage.by_month)],
    ['chart-by-scope', 'Coverage by reach', pair_series(c.coverage.by_scope, p.coverage.by_scope, { label: (k) => scope_words[k] || k })],
    ['chart-by-medium', 'Coverage by medium', pair_series(c.coverage.by_medium, p.coverage.by_medium, { label: (k) => medium_words[k] || k })],
    ['chart-by-topic', 'Coverage by topic', pair_series(c.coverage.by_topic, p.coverage.by_topic, { label: label.topic, limit: 10 }), true],
    ['chart-by-region', 'Coverage by region', pair_series(c.coverage.by_region, p.coverage.by_region, { label: label.region, limit: 10 }), true],
    ['chart-reactive-proactive', 'Cases: reactive and proactive', {
      keys: ['reactive', 'proactive'], labels: ['Reactive (asked by a journalist)', 'Proactive (pitched by the desk)'],
      current: [c.cases.reactive, c.cases.proactive], previous: [p.cases.reactive, p.cases.proactive], left_out: 0,
    }],
  ];
  if (which === 'all') {
    specs.push(['chart-by-tone', 'Coverage by tone', pair_series(c.coverage.by_tone, p.coverage.by_tone, { label: (k) => tone_words[k] || k })]);
    specs.push(['chart-by-outlet', 'Coverage by outlet (top 10)', pair_series(c.coverage.by_outlet, p.coverage.by_outlet, { limit: 10 }), true]);
  }
  return specs.map(([id, title, series, horizontal]) => chart_figure(id, title, series, names, { horizontal }));
}

function partners_table(report) {
  const before = new Map((report.previous.partners.by_partner || []).map((x) => [x.partner_id, x]));
  const rows = report.current.partners.by_partner || [];
  if (!rows.length) return h('p', { class: 'empty' }, 'No offers were sent to partners in this period.');
  return h('div', { class: 'table-wrap' }, h('table', { id: 'report-partners' },
    h('caption', {}, 'Partner responsiveness in this period (accept rate of the previous period beside it)'),
    h('thead', {}, h('tr', {}, ['Partner', 'Offers', 'Accepted', 'Declined', 'Expired', 'Accept rate', 'Previous accept rate',
      'Median response'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((x) => h('tr', { dataset: { partnerId: String(x.partner_id) } },
      h('th', { scope: 'row' }, x.name), h('td', {}, x.offers), h('td', {}, x.accepted), h('td', {}, x.declined),
      h('td', {}, x.expired), h('td', {}, format_figure(x.accept_rate, 'share')),
      h('td', {}, format_figure(before.get(x.partner_id)?.accept_rate ?? null, 'share')),
      h('td', {}, format_figure(x.median_minutes_to_response, 'minutes')))))));
}

function triage_part(report) {
  const c = report.current.triage;
  const p = report.previous.triage;
  const series = pair_series(c.by_field, p.by_field, { label: (k) => field_words[k] || k, limit: 20 });
  return h('div', { id: 'report-triage' },
    h('p', {}, c.cases
      ? `Staff corrected at least one triage field on ${c.corrected_cases} of ${c.cases} cases (${format_figure(c.corrected_share, 'share')}; `
        + `previous period ${format_figure(p.corrected_share, 'share')}). The lower, the better triage did on its own.`
      : 'No cases were triaged in this period.'),
    series.labels.length ? h('table', {}, h('caption', {}, 'Corrections by field'),
      h('thead', {}, h('tr', {}, ['Field', 'This period', 'Previous period'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, series.labels.map((l, i) => h('tr', {}, h('th', { scope: 'row' }, l),
        h('td', {}, series.current[i]), h('td', {}, series.previous[i]))))) : null);
}

export function reports_view(container, params = new URLSearchParams()) {
  const fallback = default_period();
  const wanted = {
    from: day_pattern.test(params.get('from') || '') ? params.get('from') : fallback.from,
    to: day_pattern.test(params.get('to') || '') ? params.get('to') : fallback.to,
  };
  const charts = [];
  let alive = true;
  const from = h('input', { type: 'date', id: 'report-from', name: 'from', value: wanted.from, required: true });
  const to = h('input', { type: 'date', id: 'report-to', name: 'to', value: wanted.to, required: true });
  const form_error = h('p', { class: 'error', role: 'alert', id: 'report-error' });
  const form = h('form', { id: 'report-period', class: 'period-form', 'aria-label': 'Report period' },
    h('div', { class: 'field' }, h('label', { for: 'report-from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'report-to' }, 'To'), to),
    h('button', { type: 'submit' }, 'Show'));
  const csv = h('a', { id: 'report-csv', class: 'button-link', href: csv_href(wanted), download: '' }, 'Download CSV');
  const annual = h('a', { href: `#/reports/annual?year=${wanted.to.slice(0, 4)}` }, 'Annual summary');
  const period_text = h('p', { id: 'report-period-label', class: 'hint' }, 'Loading…');
  const body = h('div', { id: 'report-body', 'aria-busy': 'true' });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    form_error.textContent = '';
    if (!day_pattern.test(from.value) || !day_pattern.test(to.value)) { form_error.textContent = 'Give both dates.'; return; }
    if (from.value > to.value) { form_error.textContent = 'The start date is after the end date.'; return; }
    location.hash = `#/reports${query({ from: from.value, to: to.value })}`;
  });

  replace(container, h('h2', { id: 'reports-heading' }, 'Reports'),
    h('div', { class: 'report-controls' }, form, h('p', { class: 'report-links' }, csv, ' ', annual)),
    form_error, period_text, body);

  (async () => {
    try {
      const [report, label] = await Promise.all([api(`/api/v1/reports${query(wanted)}`), labellers()]);
      if (!alive) return;
      const names = { current: 'This period', previous: 'Previous period' };
      replace(period_text, `${period_label(report.period)}, beside the previous period ${period_label(report.previous_period)}.`);
      const figures = chart_specs(report, label, names);
      replace(body,
        h('section', { 'aria-labelledby': 'figures-heading' }, h('h3', { id: 'figures-heading' }, 'Figures'),
          h('div', { id: 'report-figures', class: 'tiles' },
            tile_list.map(([id, text, path, kind]) => tile(id, text, get(report.current, path), get(report.previous, path), kind)))),
        h('section', { 'aria-labelledby': 'charts-heading' }, h('h3', { id: 'charts-heading' }, 'Charts'),
          h('div', { id: 'report-charts', class: 'chart-grid' }, figures.map((f) => f.figure))),
        h('section', { 'aria-labelledby': 'partners-heading' }, h('h3', { id: 'partners-heading' }, 'Partner responsiveness'),
          h('p', {}, `${report.current.partners.offers} offers: ${report.current.partners.accepted} accepted, `
            + `${report.current.partners.declined} declined, ${report.current.partners.expired} expired.`),
          partners_table(report)),
        h('section', { 'aria-labelledby': 'triage-heading' }, h('h3', { id: 'triage-heading' }, 'Triage accuracy'), triage_part(report)));
      body.setAttribute('aria-busy', 'false');
      charts.push(...await draw_charts(figures));
      if (!alive) destroy_charts(charts);
      else body.dataset.chartsDrawn = String(charts.length);
    } catch (error) {
      body.setAttribute('aria-busy', 'false');
      replace(period_text, '');
      if (error.status !== 401) show_error(error, form_error);  // a 400 names the field: "from: …"
    }
  })();
  document.title = 'Reports – MediaDesk';
  return { on_event() {}, destroy() { alive = false; destroy_charts(charts); } };
}

// ---- the annual summary ----

function headline(id, ...parts) {
  return h('p', { class: 'headline', id }, ...parts);
}
const plural = (n, one, many) => (n === 1 ? one : many);

export function annual_view(container, params = new URLSearchParams()) {
  const this_year = Number(london_day().slice(0, 4));
  const asked = Number(params.get('year'));
  const year = Number.isInteger(asked) && asked >= 2000 && asked <= this_year ? asked : this_year;
  const periods = annual_periods(year);
  const charts = [];
  let alive = true;

  const year_select = h('select', { id: 'annual-year', name: 'year' },
    Array.from({ length: 6 }, (_, i) => this_year - i).map((y) => h('option', { value: String(y), selected: y === year }, String(y))));
  year_select.addEventListener('change', () => { location.hash = `#/reports/annual?year=${year_select.value}`; });
  const print = h('button', { type: 'button', id: 'annual-print' }, 'Print');
  print.addEventListener('click', () => window.print());
  const error_el = h('p', { class: 'error', role: 'alert' });
  const article = h('article', { id: 'annual', class: 'annual', 'aria-labelledby': 'annual-heading', 'aria-busy': 'true' },
    h('p', { class: 'annual-kicker' }, 'MediaDesk · annual review'),
    h('h2', { id: 'annual-heading' }, `${year} in review`),
    h('p', { class: 'hint' }, 'Loading…'));

  replace(container,
    h('div', { class: 'annual-toolbar' },
      h('a', { href: '#/reports' }, '← Reports'),
      h('div', { class: 'field inline-field' }, h('label', { for: 'annual-year' }, 'Year'), year_select),
      print),
    error_el, article);

  // Chart.js sizes charts to their boxes; print layout changes the boxes without a resize event.
  const before_print = () => { for (const c of charts) c.resize(c.canvas.closest('.wide') ? 680 : 330, 230); };
  const after_print = () => { for (const c of charts) c.resize(); };
  window.addEventListener('beforeprint', before_print);
  window.addEventListener('afterprint', after_print);

  (async () => {
    try {
      const [now, before, label] = await Promise.all([
        api(`/api/v1/reports${query(periods.current)}`), api(`/api/v1/reports${query(periods.last)}`), labellers()]);
      if (!alive) return;
      // The year against the same stretch of the year before (not the API's "previous period").
      const report = { period: periods.current, previous_period: periods.last, current: now.current, previous: before.current };
      const f = report.current;
      const names = { current: String(year), previous: String(year - 1) };
      const last = periods.running ? `same stretch of ${year - 1}` : String(year - 1);
      const figures = chart_specs(report, label, names, 'annual');
      figures[0].figure.classList.add('wide');
      const stretch = periods.running ? ` (1 January to ${period_label(periods.current).split(' – ')[1]})` : '';
      replace(article,
        h('p', { class: 'annual-kicker' }, 'MediaDesk · annual review'),
        h('h2', { id: 'annual-heading' }, periods.running ? `${year} so far` : `${year} in review`),
        h('p', { class: 'annual-lede' }, `What the media desk did in ${year}${stretch}, beside the same stretch of ${year - 1}.`),
        h('div', { class: 'headlines' },
          headline('annual-coverage', h('strong', {}, format_figure(f.coverage.total)),
            ` ${plural(f.coverage.total, 'piece', 'pieces')} of coverage, `, h('strong', {}, format_figure(f.coverage.national)), ' national'),
          headline('annual-voices', h('strong', {}, format_figure(f.voices.spokespeople)),
            ` ${plural(f.voices.spokespeople, 'voice', 'voices')} heard, `, h('strong', {}, format_figure(f.voices.first_time)), ' for the first time'),
          headline('annual-requests', year_on_year('requests received', f.requests.received, report.previous.requests.received))),
        h('div', { class: 'tiles annual-tiles' },
          tile('received', 'Requests received', f.requests.received, report.previous.requests.received, 'count', last),
          tile('fulfilled', 'Requests fulfilled', f.requests.fulfilled, report.previous.requests.fulfilled, 'count', last),
          tile('proactive', 'Stories pitched by the desk', f.cases.proactive, report.previous.cases.proactive, 'count', last),
          tile('lived_experience', 'Coverage quoting lived experience', f.coverage.lived_experience_quoted,
            report.previous.coverage.lived_experience_quoted, 'count', last),
          tile('to_first_offer', 'Median time to first offer', f.timings.median_minutes_to_first_offer,
            report.previous.timings.median_minutes_to_first_offer, 'minutes', last),
          tile('accept_rate', 'Partner accept rate', f.partners.accept_rate, report.previous.partners.accept_rate, 'share', last)),
        h('div', { id: 'annual-charts', class: 'chart-grid' }, figures.map((x) => x.figure)),
        h('p', { class: 'annual-footnote hint' },
          `Figures from MediaDesk for ${period_label(periods.current)}, compared with ${period_label(periods.last)}. `
          + `Produced on ${period_label({ from: london_day(), to: london_day() }).split(' – ')[0]}.`));
      article.setAttribute('aria-busy', 'false');
      document.title = `${year} annual review – MediaDesk`;
      charts.push(...await draw_charts(figures));
      if (!alive) destroy_charts(charts);
      else article.dataset.chartsDrawn = String(charts.length);
    } catch (error) {
      article.setAttribute('aria-busy', 'false');
      if (error.status !== 401) show_error(error, error_el);
    }
  })();
  document.title = `${year} annual review – MediaDesk`;
  return {
    on_event() {},
    destroy() {
      alive = false;
      destroy_charts(charts);
      window.removeEventListener('beforeprint', before_print);
      window.removeEventListener('afterprint', after_print);
    },
  };
}
