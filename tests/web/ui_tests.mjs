// Unit tests of the dashboard's pure helpers (web/ui.js): London time in and out of
// <input type="datetime-local"> across both clock changes, and the deadline countdown levels.
// Run by ctest with node's own test runner (no npm packages needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countdown, from_london_input, to_london_input } from '../../web/ui.js';

test('London wall time round-trips in winter and summer', () => {
  assert.equal(to_london_input('2026-01-15T09:30:00Z'), '2026-01-15T09:30');
  assert.equal(to_london_input('2026-07-15T09:30:00Z'), '2026-07-15T10:30');
  assert.equal(from_london_input('2026-01-15T09:30'), '2026-01-15T09:30:00Z');
  assert.equal(from_london_input('2026-07-15T10:30'), '2026-07-15T09:30:00Z');
});

test('around the clock changes', () => {
  // 29 March 2026: 01:00 GMT becomes 02:00 BST. 31 October... 25 October 2026: 02:00 BST back to 01:00 GMT.
  assert.equal(from_london_input('2026-03-29T00:30'), '2026-03-29T00:30:00Z');
  assert.equal(from_london_input('2026-03-29T03:00'), '2026-03-29T02:00:00Z');
  assert.equal(to_london_input('2026-03-29T01:00:00Z'), '2026-03-29T02:00');
  assert.equal(from_london_input('2026-10-25T03:00'), '2026-10-25T03:00:00Z');
  assert.equal(to_london_input('2026-10-24T23:00:00Z'), '2026-10-25T00:00');
});

test('malformed or empty input is null, not a guess', () => {
  assert.equal(from_london_input(''), null);
  assert.equal(from_london_input('tomorrow 5pm'), null);
  assert.equal(from_london_input('2026-13-01'), null);
  assert.equal(to_london_input(null), '');
});

test('countdown levels: amber under two hours, red under thirty minutes and when overdue', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  const at = (minutes) => new Date(now + minutes * 60000).toISOString();
  assert.deepEqual(countdown(at(180), now), { text: '3 h 0 min left', level: '' });
  assert.deepEqual(countdown(at(119), now), { text: '1 h 59 min left', level: 'amber' });
  assert.deepEqual(countdown(at(29), now), { text: '29 min left', level: 'red' });
  assert.deepEqual(countdown(at(-5), now), { text: 'overdue by 5 min', level: 'red' });
  assert.deepEqual(countdown(at(3 * 1440 + 60), now), { text: '3 d 1 h left', level: '' });
  assert.deepEqual(countdown(null, now), { text: 'no deadline', level: '' });
});
