// Bar charts for the reports pages, drawn by Chart.js (npm, pinned in web/package-lock.json,
// embedded into the binary as /static/vendor/chart.umd.min.js: no CDN). Loaded only when a
// reports page opens. Every chart has its text alternative: an aria-label summary on the canvas
// and the same figures as a table under it.
import { h } from './ui.js';

let chart_promise = null;
export function load_chart_library() {
  // The UMD build, imported for its effect: it sets globalThis.Chart.
  chart_promise ||= import('./vendor/chart.umd.min.js').then(() => {
    if (!globalThis.Chart) throw new Error('the chart library did not load');
    globalThis.Chart.defaults.font.family = 'system-ui, sans-serif';
    globalThis.Chart.defaults.color = '#1b1b1b';
    return globalThis.Chart;
  }).catch((error) => { chart_promise = null; throw error; });
  return chart_promise;
}

// Current in the accent blue, previous in a light blue with a dark border; the legend, the
// tooltips and the table say which is which, so colour is never the only cue.
const colours = {
  current: { backgroundColor: '#0b4f8a', borderColor: '#0b4f8a' },
  previous: { backgroundColor: '#b7c9dc', borderColor: '#4a5157' },
};

// A <figure> with the chart's title, a canvas and a table of the same figures. series: from
// report_data's pair_series/month_series; names: { current, previous } for the legend.
export function chart_figure(id, title, series, names, { horizontal = false } = {}) {
  const rows = series.labels.map((label, i) => h('tr', {},
    h('th', { scope: 'row' }, series.previous_labels?.[i] ? `${label} (previous: ${series.previous_labels[i]})` : label),
    h('td', {}, series.current[i]), h('td', {}, series.previous[i])));
  const total_now = series.current.reduce((a, b) => a + b, 0);
  const total_before = series.previous.reduce((a, b) => a + b, 0);
  const summary = series.labels.length
    ? `${title}. ${names.current}: ${series.labels.map((l, i) => `${l} ${series.current[i]}`).join(', ')}. `
      + `${names.previous}: total ${total_before}. The table below has every figure.`
    : `${title}: nothing recorded in either period.`;
  const canvas = h('canvas', { id, role: 'img', 'aria-label': summary });
  const box = h('div', { class: `chart-box${horizontal ? ' tall' : ''}` }, canvas);
  const figure = h('figure', { class: 'chart', dataset: { chart: id } },
    h('figcaption', {}, title, h('span', { class: 'chart-total' }, ` — ${total_now} (previous: ${total_before})`)),
    series.labels.length ? box : h('p', { class: 'empty' }, 'Nothing recorded in either period.'),
    series.left_out ? h('p', { class: 'hint' }, `Showing the top ${series.labels.length}; ${series.left_out} more in the CSV.`) : null,
    series.labels.length ? h('details', { class: 'chart-table' }, h('summary', {}, `${title}: the figures as a table`),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col' }, names.current),
        h('th', { scope: 'col' }, names.previous))), h('tbody', {}, rows))) : null);
  return { figure, canvas, series, names, horizontal };
}

// Draws the figures' charts once the library has loaded; returns the Chart instances.
export async function draw_charts(figures) {
  const Chart = await load_chart_library();
  return figures.filter((f) => f.series.labels.length && f.canvas.isConnected).map((f) => new Chart(f.canvas, {
    type: 'bar',
    data: {
      labels: f.series.labels,
      datasets: [
        { label: f.names.current, data: f.series.current, borderWidth: 1, ...colours.current },
        { label: f.names.previous, data: f.series.previous, borderWidth: 1, ...colours.previous },
      ],
    },
    options: {
      indexAxis: f.horizontal ? 'y' : 'x',
      animation: false,  // figures, not a show; and print and tests see the final picture at once
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' } },
      scales: { [f.horizontal ? 'x' : 'y']: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  }));
}

export function destroy_charts(charts) {
  for (const c of charts) c.destroy();
  charts.length = 0;
}
