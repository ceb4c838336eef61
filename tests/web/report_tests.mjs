// Unit tests of the reports pages' pure helpers (web/report_data.js): periods in London days,
// figures and their change in words, and chart series shaped from GET /api/v1/reports lists.
// Run by ctest (web_reports) with node's own test runner.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  annual_periods, change_of, csv_href, default_period, format_figure, format_minutes, london_day, month_series,
  months_between, pair_series, period_label, safe_link, year_on_year,
} from '../../web/report_data.js';

test('London days and the default period (1 January to today, London)', () => {
  assert.equal(london_day(Date.parse('2026-06-30T23:30:00Z')), '2026-07-01');  // BST: already the 1st
  assert.equal(london_day(Date.parse('2026-12-31T23:30:00Z')), '2026-12-31');  // GMT
  assert.deepEqual(default_period(Date.parse('2026-11-29T10:00:00Z')), { from: '2026-01-01', to: '2026-11-29' });
  // New Year's Eve 23:30 UTC is still the old year in London (GMT).
  assert.deepEqual(default_period(Date.parse('2026-12-31T23:30:00Z')), { from: '2026-01-01', to: '2026-12-31' });
});

test('annual periods: a past year whole, the running year against the same stretch last year', () => {
  const now = Date.parse('2026-11-29T10:00:00Z');
  assert.deepEqual(annual_periods(2025, now), {
    running: false, current: { from: '2025-01-01', to: '2025-12-31' }, last: { from: '2024-01-01', to: '2024-12-31' },
  });
  assert.deepEqual(annual_periods(2026, now), {
    running: true, current: { from: '2026-01-01', to: '2026-11-29' }, last: { from: '2025-01-01', to: '2025-11-29' },
  });
  assert.deepEqual(annual_periods(2028, Date.parse('2028-02-29T12:00:00Z')).last, { from: '2027-01-01', to: '2027-02-28' });
});

test('figures in words: counts, shares, durations and no data', () => {
  assert.equal(format_figure(1234), '1,234');
  assert.equal(format_figure(0), '0');
  assert.equal(format_figure(0.425, 'share'), '43%');
  assert.equal(format_figure(null, 'share'), '—');
  assert.equal(format_minutes(42.4), '42 min');
  assert.equal(format_minutes(185), '3 h 5 min');
  assert.equal(format_minutes(3 * 1440 + 125), '3 d 2 h');
  assert.equal(format_minutes(null), '—');
});

test('change on the previous period', () => {
  assert.deepEqual(change_of(15, 12), { direction: 'up', text: 'up 25%' });
  assert.deepEqual(change_of(9, 12), { direction: 'down', text: 'down 25%' });
  assert.deepEqual(change_of(12, 12), { direction: 'same', text: 'no change' });
  assert.deepEqual(change_of(3, 0), { direction: 'up', text: 'up from 0' });
  assert.deepEqual(change_of(0, 0), { direction: 'same', text: 'no change' });
  assert.deepEqual(change_of(1001, 1000), { direction: 'up', text: 'up less than 1%' });
  assert.deepEqual(change_of(0.5, 0.4, 'share'), { direction: 'up', text: 'up 10 points' });
  assert.deepEqual(change_of(null, 0.4, 'share'), { direction: 'none', text: 'no comparison' });
  assert.deepEqual(change_of(30, 90, 'minutes'), { direction: 'down', text: '1 h 0 min faster' });
  assert.equal(year_on_year('requests received', 24, 12), 'requests received up 100% on last year');
  assert.equal(year_on_year('requests received', 6, 12), 'requests received down 50% on last year');
  assert.equal(year_on_year('requests received', 12, 12), 'requests received the same as last year');
  assert.equal(year_on_year('requests received', 5, 0), 'requests received: 5, none recorded the year before');
});

test('pair_series: keys of both periods, biggest first, labelled, limited', () => {
  const s = pair_series([{ key: 'local', count: 3 }, { key: 'national', count: 5 }],
    [{ key: 'international', count: 2 }, { key: 'national', count: 1 }], { label: (k) => k.toUpperCase() });
  assert.deepEqual(s.keys, ['national', 'local', 'international']);
  assert.deepEqual(s.labels, ['NATIONAL', 'LOCAL', 'INTERNATIONAL']);
  assert.deepEqual(s.current, [5, 3, 0]);
  assert.deepEqual(s.previous, [1, 0, 2]);
  assert.equal(s.left_out, 0);
  const limited = pair_series([{ key: 'a', count: 1 }, { key: 'b', count: 1 }, { key: 'c', count: 1 }], [], { limit: 2 });
  assert.deepEqual(limited.keys, ['a', 'b']);
  assert.equal(limited.left_out, 1);
  assert.deepEqual(pair_series(undefined, undefined).labels, []);
});

test('month_series: every month of the period, the previous period beside it by position', () => {
  assert.deepEqual(months_between('2025-11-15', '2026-02-01'), ['2025-11', '2025-12', '2026-01', '2026-02']);
  const s = month_series({ from: '2026-01-01', to: '2026-03-31' }, { from: '2025-10-03', to: '2025-12-31' },
    [{ key: '2026-01', count: 4 }, { key: '2026-03', count: 1 }], [{ key: '2025-12', count: 2 }]);
  assert.deepEqual(s.labels, ['Jan 2026', 'Feb 2026', 'Mar 2026']);
  assert.deepEqual(s.previous_labels, ['Oct 2025', 'Nov 2025', 'Dec 2025']);
  assert.deepEqual(s.current, [4, 0, 1]);
  assert.deepEqual(s.previous, [0, 0, 2]);
});

test('labels and links', () => {
  assert.equal(period_label({ from: '2026-01-01', to: '2026-11-29' }), '1 Jan 2026 – 29 Nov 2026');
  assert.equal(csv_href({ from: '2026-01-01', to: '2026-11-29' }), '/api/v1/reports.csv?from=2026-01-01&to=2026-11-29');
  assert.equal(safe_link('https://www.bbc.co.uk/news/1'), 'https://www.bbc.co.uk/news/1');
  assert.equal(safe_link('javascript:alert(1)'), null);
  assert.equal(safe_link(' https://x.example'), null);
  assert.equal(safe_link(null), null);
});
