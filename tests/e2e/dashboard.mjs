// The dashboard's browser scenario: playwright-core driving Debian's chromium (headless, no sandbox)
// against a running MediaDesk (tests/e2e/dashboard_tests.cpp starts the stack and runs this file).
// Written to the DOM contract in the dashboard's contract notes (roles, labels, ids). Prints each
// step; a failed step blocks the steps that need it; exits 1 naming every failed step, 0 when all pass.
//
// Environment: BASE_URL, CHROMIUM, ADMIN_/STAFF_/VIEWER_EMAIL and _PASSWORD, WEBHOOK_SECRET,
// MAILDIR (the outbox), PARTNER_EMAIL and SPOKESPERSON_ALIAS (the seeded match), ARTIFACTS (the
// screenshots queue.png, case.png, respond.png, reports.png, annual-print.png and failure shots). Optional: E2E_STEP_TIMEOUT_MS
// (default 30000), E2E_TOTAL_TIMEOUT_MS (240000), E2E_STOP_AT_FIRST_FAILURE=1, E2E_HEADED=1.
import { chromium, request as apiRequest } from 'playwright-core';
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

// ---- configuration ----

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`dashboard.mjs: environment variable ${name} is not set (tests/e2e/dashboard_tests.cpp sets it)`);
    process.exit(2);
  }
  return value;
}

const config = {
  baseUrl: required('BASE_URL').replace(/\/$/, ''),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  admin: { email: required('ADMIN_EMAIL'), password: required('ADMIN_PASSWORD') },
  staff: { email: required('STAFF_EMAIL'), password: required('STAFF_PASSWORD') },
  viewer: { email: required('VIEWER_EMAIL'), password: required('VIEWER_PASSWORD') },
  webhookSecret: required('WEBHOOK_SECRET'),
  maildir: required('MAILDIR'),
  partnerEmail: required('PARTNER_EMAIL'),
  alias: required('SPOKESPERSON_ALIAS'),
  artifacts: required('ARTIFACTS'),
  stepTimeout: Number(process.env.E2E_STEP_TIMEOUT_MS || 30_000),
  totalTimeout: Number(process.env.E2E_TOTAL_TIMEOUT_MS || 240_000),
  stopAtFirstFailure: process.env.E2E_STOP_AT_FIRST_FAILURE === '1',
  headed: process.env.E2E_HEADED === '1',
};
const actionTimeout = 10_000; // one click, fill or wait; a step holds several
fs.mkdirSync(config.artifacts, { recursive: true });

// Markup that must stay text wherever a request's fields are shown.
const XSS_IMG = '<img src=x onerror="window.__xss=1">';
const XSS_SCRIPT = '<script>window.__xss=1</script>';
// Change controls a viewer must not get (the contract's list, plus the offer buttons).
const CHANGE_BUTTONS = ['Assign to me', 'Save triage', 'Send offer', 'Add note', 'Send reply', 'Change status',
  'Reveal contact details', 'Withdraw', 'Release contact', 'Log coverage'];
// The coverage the scenario logs on its case (issue 8).
const COVERAGE = {
  outlet: 'BBC Radio Newcastle', headline: 'Waiting years for an answer: life in the asylum system',
  link: 'https://www.bbc.co.uk/sounds/e2e-mediadesk',
};

// ---- small helpers ----

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = Date.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (text) => console.log(`[${seconds(Date.now() - started).padStart(7)}] ${text}`);

// Polls check() until it returns true; check may return a string describing what it saw instead.
async function until(what, check, timeout = 15_000, every = 100) {
  const end = Date.now() + timeout;
  let seen = '';
  for (;;) {
    try {
      const r = await check();
      if (r === true) return;
      if (typeof r === 'string') seen = r;
    } catch (e) {
      seen = describe(e);
    }
    if (Date.now() >= end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${seen ? ` (last seen: ${seen})` : ''}`);
    await sleep(every);
  }
}

const text = async (locator) => ((await locator.count()) ? ((await locator.first().textContent()) ?? '').trim() : '(absent)');

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Pages report dialogs (always a failure here: nothing in the dashboard may alert, and an injected
// script would), page errors and console errors. Content-Security-Policy violations are kept
// apart: the reports steps fail on any (Chart.js must work under the dashboard's strict policy).
const problems = [];
const cspViolations = [];
const pages = [];
async function newPage(context, label) {
  const page = await context.newPage();
  page.on('dialog', async (dialog) => {
    problems.push(`${label}: unexpected ${dialog.type()} dialog "${dialog.message()}"`);
    log(`  ! ${label}: unexpected ${dialog.type()} dialog "${dialog.message()}"`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => log(`  ! ${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${label}: ${m.text()}`);
    // The dashboard's first GET /api/v1/session answers 401 before anyone has logged in: expected.
    // Chromium asks for /favicon.ico, which MediaDesk does not serve.
    if (m.type() !== 'error' || /status of 401/.test(m.text()) || /favicon\.ico$/.test(m.location()?.url ?? '')) return;
    log(`  ! ${label}: console error: ${m.text()}${m.location()?.url ? ` (${m.location().url})` : ''}`);
  });
  pages.push({ label, page });
  return page;
}

async function newContext(browser) {
  const context = await browser.newContext({
    baseURL: config.baseUrl, viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'Europe/London',
  });
  context.setDefaultTimeout(actionTimeout);
  context.setDefaultNavigationTimeout(actionTimeout);
  return context;
}

async function logIn(page, who) {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  const alert = page.locator('#login-error');
  await until(`the log-in of ${who.email} to finish (button "Log out" visible)`, async () => {
    if (await page.getByRole('button', { name: 'Log out' }).isVisible()) return true;
    const error = (await alert.count()) ? (await alert.textContent())?.trim() : '';
    if (error) throw new Error(`log-in refused: ${error}`);
    return false;
  }, actionTimeout);
  await page.getByRole('heading', { name: 'Log in' }).waitFor({ state: 'hidden' });
}

// A signed webhook request (X-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>).
async function postRequest(payload) {
  const body = JSON.stringify(payload);
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', config.webhookSecret).update(`${t}.${body}`).digest('hex');
  const r = await state.api.post('/api/v1/requests', {
    headers: { 'Content-Type': 'application/json', 'X-Signature': `t=${t},v1=${v1}`, 'Idempotency-Key': randomUUID() },
    data: body,
  });
  assert(r.status() === 202, `the webhook answered ${r.status()}: ${await r.text()}`);
  return (await r.json()).intake_id;
}

// The case a processed intake became (asked with the staff session).
async function caseOf(intakeId) {
  let ref = '';
  await until(`intake ${intakeId} to become a case`, async () => {
    const r = await state.staff.context.request.get(`/api/v1/intake/${intakeId}`);
    const body = await r.json().catch(() => ({}));
    if (body.status === 'failed') throw new Error(`intake ${intakeId} failed: ${JSON.stringify(body)}`);
    if (body.status === 'processed' && body.case) { ref = body.case; return true; }
    return `HTTP ${r.status()} ${JSON.stringify(body)}`;
  }, 20_000, 200);
  return ref;
}

async function caseJson(context, ref) {
  const r = await context.request.get(`/api/v1/cases/${ref}`);
  assert(r.ok(), `GET /api/v1/cases/${ref} answered ${r.status()}`);
  return (await r.json()).case;
}

// A reload would drop this marker: set it, and check later that the page is the same document.
const setMarker = (page) => page.evaluate(() => { window.__e2eSameDocument = true; });
async function assertNoReload(page) {
  assert(await page.evaluate(() => window.__e2eSameDocument === true), 'the page was reloaded (it must update live)');
}

// The offer email for this case: its /respond/<token> path. Bodies are quoted-printable.
function respondPathFromMaildir(ref) {
  const dir = path.join(config.maildir, 'new');
  if (!fs.existsSync(dir)) return null;
  for (const name of fs.readdirSync(dir)) {
    const mail = fs.readFileSync(path.join(dir, name), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    if (!mail.includes(ref) || !mail.includes(config.partnerEmail)) continue;
    const found = mail.match(/\/respond\/([A-Za-z0-9_-]{43})/);
    if (found) return { file: name, path: `/respond/${found[1]}` };
  }
  return null;
}

async function screenshot(page, name) {
  const file = path.join(config.artifacts, name);
  await page.screenshot({ path: file, fullPage: true });
  log(`  screenshot ${file}`);
}

// ---- the steps ----

const state = {};
const steps = [];
const step = (name, needs, run) => steps.push({ name, needs, run });

step('launch chromium', [], async () => {
  const t0 = Date.now();
  state.browser = await chromium.launch({
    executablePath: config.chromium,
    headless: !config.headed,
    // As root in a container there is no usable sandbox; /dev/shm is often tiny there.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
  state.api = await apiRequest.newContext({ baseURL: config.baseUrl });
  log(`  chromium ${state.browser.version()} launched in ${Date.now() - t0} ms (${config.chromium})`);
});

step('staff logs in', ['launch chromium'], async () => {
  const context = await newContext(state.browser);
  const page = await newPage(context, 'staff');
  state.staff = { context, page };
  await logIn(page, config.staff);
});

step('queue is shown and live', ['staff logs in'], async () => {
  const { page } = state.staff;
  await page.getByRole('heading', { name: 'Queue' }).waitFor();
  await page.locator('table#queue').waitFor({ state: 'attached' }); // empty, it may have no size
  await until('#live to say "Live" (the event stream is open)', async () => {
    const t = await text(page.locator('#live'));
    return t === 'Live' || `#live: ${t}`;
  }, actionTimeout);
  await setMarker(page);
});

step('a webhook request becomes a case', ['staff logs in'], async () => {
  // Posted only now, with the queue on screen: its row must arrive live.
  const deadline = new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const intakeId = await postRequest({
    journalist: { name: 'Dana Reporter', email: 'dana@radio.example', phone: '+44 7700 900777' },
    outlet: 'BBC Radio Newcastle',
    subject: 'Asylum support in Newcastle',
    body: 'Looking for someone in Newcastle with lived experience of the asylum process, to talk about it on air.',
    deadline,
  });
  state.ref = await caseOf(intakeId);
  log(`  intake ${intakeId} is case ${state.ref}`);
});

step('the new case appears in the queue without reload', ['queue is shown and live', 'a webhook request becomes a case'], async () => {
  const { page } = state.staff;
  const row = page.locator(`table#queue tr[data-ref="${state.ref}"]`);
  await row.waitFor({ timeout: 20_000 });
  const link = row.getByRole('link', { name: state.ref, exact: true });
  assert((await link.getAttribute('href'))?.endsWith(`#/case/${state.ref}`),
    `the row's link goes to ${await link.getAttribute('href')}, not #/case/${state.ref}`);
  const status = await text(row.locator('td.status'));
  assert(['new', 'triaged'].includes(status), `the row's td.status is "${status}"`);
  await assertNoReload(page);
  await screenshot(page, 'queue.png');
});

step('staff opens the case', ['the new case appears in the queue without reload'], async () => {
  const { page } = state.staff;
  await page.locator(`table#queue tr[data-ref="${state.ref}"]`).getByRole('link', { name: state.ref, exact: true }).click();
  await until(`the address to be #/case/${state.ref}`, async () => page.url().endsWith(`#/case/${state.ref}`) || page.url());
  await page.getByRole('heading', { level: 2, name: state.ref }).waitFor();
  await until('#case-status to show the status', async () => {
    const t = await text(page.locator('#case-status'));
    return ['new', 'triaged'].includes(t) || `#case-status: ${t}`;
  });
  await setMarker(page);
});

step('staff corrects the triage (medium: TV)', ['staff opens the case'], async () => {
  const { page, context } = state.staff;
  const form = page.locator('form#triage-form');
  await form.getByLabel('Medium', { exact: true }).selectOption('tv');
  await form.getByLabel('Topics', { exact: true }).fill('asylum_process');
  await form.getByLabel('Regions', { exact: true }).fill('newcastle');
  await form.getByRole('button', { name: 'Save triage' }).click();
  await until('toast "Triage saved"', async () => {
    const t = await text(page.locator('#toast'));
    return t.includes('Triage saved') || `#toast: ${t}; #error: ${await text(page.locator('#error'))}`;
  });
  const medium = page.locator('form#triage-form').getByLabel('Medium', { exact: true });
  await until('the server to hold medium tv', async () => {
    const c = await caseJson(context, state.ref);
    return c.medium === 'tv' || `medium ${c.medium}`;
  });
  // The live update re-renders the case: the corrected value must still be what the form shows.
  await until('the form to show medium tv after the live update', async () => (await medium.inputValue()) === 'tv' || await medium.inputValue());
  await sleep(1500);
  assert((await medium.inputValue()) === 'tv', `after the live update the form shows medium "${await medium.inputValue()}"`);
  await assertNoReload(page);
});

step('staff sends an offer from the matches', ['staff corrects the triage (medium: TV)'], async () => {
  const { page } = state.staff;
  const match = page.locator('ul#matches li.match').filter({ hasText: config.alias });
  await until(`a match for ${config.alias} in ul#matches`, async () => (await match.count()) > 0 || `${await page.locator('ul#matches li.match').count()} matches`);
  await match.first().getByRole('button', { name: 'Send offer' }).click();
  await until('toast "Offer sent"', async () => {
    const t = await text(page.locator('#toast'));
    return t.includes('Offer sent') || `#toast: ${t}; #error: ${await text(page.locator('#error'))}`;
  });
  await until('an offer row in state "sent"', async () => {
    const t = await text(page.locator('table#offers tr[data-offer-id] td.offer-state'));
    return t === 'sent' || `td.offer-state: ${t}`;
  });
  await until('#case-status "offered"', async () => {
    const t = await text(page.locator('#case-status'));
    return t === 'offered' || `#case-status: ${t}`;
  });
});

step('the partner accepts from the emailed link', ['staff sends an offer from the matches'], async () => {
  let found = null;
  await until(`the offer email to ${config.partnerEmail} in ${config.maildir}/new`, async () => {
    found = respondPathFromMaildir(state.ref);
    return found !== null;
  }, 20_000, 200);
  log(`  offer email ${found.file}: ${found.path.slice(0, 18)}…`);
  const context = await newContext(state.browser); // no log-in: the link is the only credential
  const page = await newPage(context, 'partner');
  state.partner = { context, page };
  await page.goto(found.path);
  const body = await page.locator('body').innerText();
  assert(body.includes(state.ref) && body.includes(config.alias), `the respond page does not name ${state.ref} and ${config.alias}`);
  assert(!body.includes('dana@radio.example'), "the respond page shows the journalist's email before acceptance");
  await screenshot(page, 'respond.png');
  await page.getByRole('button', { name: 'Accept', exact: true }).click(); // a form POST: a new page
  await until('the respond page to confirm the acceptance', async () => {
    const shown = await page.locator('body').innerText();
    const buttons = await page.getByRole('button', { name: 'Accept', exact: true }).count();
    return (/accepted/i.test(shown) && buttons === 0) || `${buttons} Accept buttons; ${shown.slice(0, 120)}`;
  });
});

step('the staff page shows the acceptance live', ['the partner accepts from the emailed link'], async () => {
  const { page } = state.staff;
  await until('#case-status "accepted"', async () => {
    const t = await text(page.locator('#case-status'));
    return t === 'accepted' || `#case-status: ${t}`;
  });
  await until('the offer row in state "accepted"', async () => {
    const t = await text(page.locator('table#offers tr[data-offer-id] td.offer-state'));
    return t === 'accepted' || `td.offer-state: ${t}`;
  });
  await assertNoReload(page);
  await screenshot(page, 'case.png');
});

step('viewer logs in', ['launch chromium'], async () => {
  const context = await newContext(state.browser);
  const page = await newPage(context, 'viewer');
  state.viewer = { context, page };
  await logIn(page, config.viewer);
});

step('viewer sees no change controls', ['viewer logs in', 'the new case appears in the queue without reload'], async () => {
  const { page } = state.viewer;
  const row = page.locator(`table#queue tr[data-ref="${state.ref}"]`);
  await row.waitFor();
  assert((await page.getByRole('button', { name: 'Assign to me' }).count()) === 0, 'the viewer\'s queue has "Assign to me"');
  await row.getByRole('link', { name: state.ref, exact: true }).click();
  await page.getByRole('heading', { level: 2, name: state.ref }).waitFor();
  await page.locator('#case-status').waitFor();
  await page.locator('ol#timeline').waitFor({ state: 'attached' }); // the case has rendered (maybe empty)
  const present = [];
  for (const name of CHANGE_BUTTONS) if ((await page.getByRole('button', { name, exact: true }).count()) > 0) present.push(name);
  assert(present.length === 0, `the viewer sees change controls: ${present.join(', ')}`);
});

step('viewer is refused changes by the API (403)', ['viewer logs in', 'a webhook request becomes a case'], async () => {
  const request = state.viewer.page.request; // the viewer's cookies
  const session = await request.get('/api/v1/session');
  assert(session.ok(), `GET /api/v1/session answered ${session.status()}`);
  const { csrf, role } = await session.json();
  assert(role === 'viewer' && csrf, `the session is ${JSON.stringify({ role, csrf: !!csrf })}`);
  const read = await request.get(`/api/v1/cases/${state.ref}`);
  assert(read.status() === 200, `the viewer cannot read the case (${read.status()}), so a 403 would prove nothing`);
  const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf };
  for (const [method, url, data] of [
    ['post', `/api/v1/cases/${state.ref}/status`, { status: 'fulfilled' }],
    ['patch', `/api/v1/cases/${state.ref}/triage`, { medium: 'print' }],
    ['post', `/api/v1/cases/${state.ref}/reveal`, { reason: 'a viewer may not' }],
  ]) {
    const r = await request[method](url, { headers, data: JSON.stringify(data) });
    assert(r.status() === 403, `${method.toUpperCase()} ${url} as viewer answered ${r.status()}, not 403`);
    log(`  ${method.toUpperCase()} ${url} as viewer: 403`);
  }
});

step('a request with markup becomes a case', ['staff logs in'], async () => {
  const intakeId = await postRequest({
    journalist: { name: 'Eve Markup', email: 'eve@markup.example' },
    outlet: `${XSS_IMG}${XSS_SCRIPT}`,
    subject: `Markup probe ${XSS_SCRIPT}`,
    body: `Looking for a voice on the asylum process. ${XSS_IMG} and ${XSS_SCRIPT} must show as text.`,
  });
  state.xssRef = await caseOf(intakeId);
  log(`  intake ${intakeId} is case ${state.xssRef}`);
});

step('markup in a request is shown as text, never run', ['a request with markup becomes a case', 'staff opens the case'], async () => {
  const { page } = state.staff;
  await page.getByRole('link', { name: 'Queue', exact: true }).click();
  const row = page.locator(`table#queue tr[data-ref="${state.xssRef}"]`);
  await row.waitFor({ timeout: 20_000 });
  await row.getByRole('link', { name: state.xssRef, exact: true }).click();
  await page.getByRole('heading', { level: 2, name: state.xssRef }).waitFor();
  await page.getByRole('button', { name: 'Reveal contact details' }).click();
  await page.getByLabel('Reason', { exact: true }).fill('e2e: checking that markup is shown as text');
  await page.getByRole('button', { name: 'Reveal', exact: true }).click();
  const request = page.locator('#request');
  await until('#request to show the request text', async () => (await text(request)).includes('must show as text') || `#request: ${await text(request)}`);
  await sleep(1000); // an injected image's onerror fires after its failed load
  const xss = await page.evaluate(() => window.__xss);
  assert(xss === undefined, `window.__xss is ${xss}: injected markup ran`);
  assert((await page.locator('#request img, #request script, img[src="x"]').count()) === 0, 'the markup became elements');
  const shown = await text(request);
  assert(shown.includes(XSS_IMG), `#request does not show ${XSS_IMG} literally: ${shown}`);
  assert(shown.includes(XSS_SCRIPT), `#request does not show ${XSS_SCRIPT} literally: ${shown}`);
});

step('admin sees the "Reveal audit" link', ['launch chromium'], async () => {
  const context = await newContext(state.browser);
  const page = await newPage(context, 'admin');
  state.admin = { context, page };
  await logIn(page, config.admin);
  await page.getByRole('link', { name: 'Reveal audit' }).waitFor();
});

step('staff does not see the "Reveal audit" link', ['staff logs in'], async () => {
  const { page } = state.staff;
  await page.getByRole('link', { name: 'Queue', exact: true }).waitFor(); // the navigation is there
  assert((await page.getByRole('link', { name: 'Reveal audit' }).count()) === 0, 'staff see "Reveal audit"');
});

// ---- issue 8: coverage, reports, the annual summary, aftercare, a proactive case ----

// Goes to a dashboard address without reloading (the session and the live feed stay).
async function goHash(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await until(`the address to be ${hash}`, async () => page.url().endsWith(hash) || page.url());
}

async function toast(page, wanted) {
  await until(`toast "${wanted}"`, async () => {
    const t = await text(page.locator('#toast'));
    return t.includes(wanted) || `#toast: ${t}; #error: ${await text(page.locator('#error'))}; `
      + `form errors: ${(await page.locator('.error:not(:empty)').allTextContents()).join(' | ')}`;
  });
}

// A drawn chart: a canvas with a size, a Chart.js instance on it and pixels that are not all blank.
async function chartState(page, id) {
  return page.evaluate((canvasId) => {
    const canvas = document.getElementById(canvasId);
    if (!canvas) return { error: `no canvas#${canvasId}` };
    const box = canvas.getBoundingClientRect();
    const chart = globalThis.Chart?.getChart(canvas);
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted += 1;
    return { width: box.width, height: box.height, chart: !!chart, bars: chart ? chart.data.datasets.length : 0, painted,
      label: canvas.getAttribute('aria-label') || '' };
  }, id);
}

step('staff logs coverage on the case', ['the staff page shows the acceptance live'], async () => {
  const { page, context } = state.staff;
  await goHash(page, `#/case/${state.ref}`);
  await page.getByRole('heading', { level: 2, name: state.ref }).waitFor();
  const form = page.locator('form#coverage-form');
  await form.waitFor();
  const spokesperson = form.getByLabel('Spokesperson', { exact: true });
  await until(`${config.alias} among the coverage form's spokespeople`, async () => {
    const options = await spokesperson.locator('option').allTextContents();
    return options.includes(config.alias) || `options: ${options.join(', ')}`;
  });
  const first = form.getByLabel("The spokesperson's first time in the media");
  assert(await first.isDisabled(), '"first time" is enabled before a spokesperson is chosen');
  // The form's own check names the field: nothing filled in yet.
  await form.getByRole('button', { name: 'Log coverage' }).click();
  await until('a field error under "Outlet"', async () => (await form.locator('#cov-outlet[aria-invalid="true"]').count()) === 1
    || `errors: ${(await form.locator('.error').allTextContents()).join(' | ')}`);
  await form.getByLabel('Outlet', { exact: true }).fill(COVERAGE.outlet);
  await form.getByLabel('Reach', { exact: true }).selectOption('local');
  await form.getByLabel('Medium', { exact: true }).selectOption('radio');
  await form.getByLabel('Link', { exact: true }).fill(COVERAGE.link);
  await form.getByLabel('Headline', { exact: true }).fill(COVERAGE.headline);
  await spokesperson.selectOption({ label: config.alias });
  assert(await first.isEnabled(), '"first time" stays disabled with a spokesperson chosen');
  await first.check();
  await form.getByLabel('Lived experience was quoted').check();
  await form.getByLabel('Tone', { exact: true }).selectOption('positive');
  await form.getByRole('button', { name: 'Log coverage' }).click();
  await toast(page, 'Coverage logged');
  const item = page.locator('ul#coverage-list li.coverage-item').filter({ hasText: COVERAGE.headline });
  await item.waitFor();
  const shown = await text(item);
  for (const wanted of [COVERAGE.outlet, 'local', 'radio', 'Lived experience quoted', `Spokesperson: ${config.alias} (first time)`]) {
    assert(shown.includes(wanted), `the coverage item does not say "${wanted}": ${shown}`);
  }
  const href = await item.getByRole('link', { name: COVERAGE.headline }).getAttribute('href');
  assert(href === COVERAGE.link, `the coverage link goes to ${href}`);
  const r = await context.request.get(`/api/v1/cases/${state.ref}/coverage`);
  assert(r.ok(), `GET /api/v1/cases/${state.ref}/coverage answered ${r.status()}`);
  const logged = (await r.json()).coverage;
  assert(logged.length === 1 && logged[0].first_time === true && logged[0].spokesperson?.alias === config.alias,
    `the server holds ${JSON.stringify(logged)}`);
});

step('the reports page draws its charts', ['staff logs coverage on the case'], async () => {
  const { page, context } = state.staff;
  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  await page.getByRole('heading', { level: 2, name: 'Reports' }).waitFor();
  await until('the charts to be drawn (#report-body[data-charts-drawn])', async () => {
    const drawn = await page.locator('#report-body').getAttribute('data-charts-drawn');
    return Number(drawn) >= 4 || `data-charts-drawn=${drawn}; #report-error: ${await text(page.locator('#report-error'))}`;
  });
  const from = await page.getByLabel('From', { exact: true }).inputValue();
  const to = await page.getByLabel('To', { exact: true }).inputValue();
  assert(/^\d{4}-01-01$/.test(from) && to.startsWith(from.slice(0, 4)), `the default period is ${from} to ${to}`);
  const coverageTile = page.locator('#report-figures [data-figure="coverage"] .tile-value');
  assert(Number(await text(coverageTile)) >= 1, `the coverage tile shows ${await text(coverageTile)}`);
  assert((await text(page.locator('#report-figures [data-figure="coverage"] .tile-previous'))).startsWith('previous period'),
    'the coverage tile does not show the previous period');
  for (const id of ['chart-by-month', 'chart-by-scope', 'chart-by-medium', 'chart-reactive-proactive']) {
    const c = await chartState(page, id);
    assert(!c.error, c.error);
    assert(c.width > 50 && c.height > 50, `canvas#${id} is ${c.width}×${c.height}`);
    assert(c.chart && c.bars === 2, `canvas#${id} has no Chart.js chart with current and previous bars`);
    assert(c.painted > 500, `canvas#${id} is blank (${c.painted} painted pixels)`);
    assert(c.label.length > 20, `canvas#${id} has no text alternative (aria-label "${c.label}")`);
    log(`  ${id}: ${Math.round(c.width)}×${Math.round(c.height)}, ${c.painted} painted pixels`);
  }
  assert((await page.locator('#report-charts details.chart-table table').count()) >= 4, 'the charts have no tables as text alternatives');
  await page.locator('#report-partners, #report-body section p.empty').first().waitFor({ state: 'attached' });
  await page.locator('#report-triage').waitFor({ state: 'attached' });
  const csv = page.getByRole('link', { name: 'Download CSV' });
  const href = await csv.getAttribute('href');
  assert(href === `/api/v1/reports.csv?from=${from}&to=${to}`, `the CSV link is ${href}`);
  const r = await context.request.get(href);
  assert(r.ok(), `GET ${href} answered ${r.status()}`);
  const firstLine = (await r.text()).split(/\r?\n/)[0];
  assert(firstLine === 'section,key,current,previous', `the CSV starts with "${firstLine}"`);
  assert(cspViolations.length === 0, `Content-Security-Policy violations: ${cspViolations.join('; ')}`);
  await screenshot(page, 'reports.png');
});

step('the annual summary is printable', ['the reports page draws its charts'], async () => {
  const { page } = state.staff;
  const year = new Date().getFullYear();
  await page.getByRole('link', { name: 'Annual summary' }).click();
  await page.getByRole('heading', { level: 2, name: String(year) }).waitFor();
  await until('the annual charts to be drawn', async () => {
    const drawn = await page.locator('#annual').getAttribute('data-charts-drawn');
    return Number(drawn) >= 3 || `data-charts-drawn=${drawn}`;
  });
  const coverage = await text(page.locator('#annual-coverage'));
  assert(/^\d[\d,]* pieces? of coverage, \d[\d,]* national$/.test(coverage), `#annual-coverage says "${coverage}"`);
  const voices = await text(page.locator('#annual-voices'));
  assert(/^\d[\d,]* voices? heard, \d[\d,]* for the first time$/.test(voices), `#annual-voices says "${voices}"`);
  const requests = await text(page.locator('#annual-requests'));
  assert(requests.startsWith('requests received'), `#annual-requests says "${requests}"`);
  const c = await chartState(page, 'chart-by-month');
  assert(c.chart && c.painted > 500, `the annual chart-by-month is not drawn (${JSON.stringify(c)})`);
  // "Print" calls window.print (replaced here: a real print dialog would block the browser).
  await page.evaluate(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  await page.getByRole('button', { name: 'Print' }).click();
  assert(await page.evaluate(() => window.__printed) === 1, '"Print" did not call window.print()');
  await page.emulateMedia({ media: 'print' });
  try {
    const hidden = await page.evaluate(() => ['header.bar', '.annual-toolbar'].map((s) => getComputedStyle(document.querySelector(s)).display));
    assert(hidden.every((d) => d === 'none'), `in print the navigation and toolbar show (display: ${hidden.join(', ')})`);
    await screenshot(page, 'annual-print.png');
  } finally {
    await page.emulateMedia({ media: 'screen' });
  }
  assert(cspViolations.length === 0, `Content-Security-Policy violations: ${cspViolations.join('; ')}`);
});

step('staff marks the aftercare check-in done', ['the staff page shows the acceptance live'], async () => {
  const { page, context } = state.staff;
  const nav = page.locator('#aftercare-link');
  await until('the Aftercare navigation item to count an open task', async () => {
    const n = Number(await text(page.locator('#aftercare-count')));
    return (await nav.isVisible() && n >= 1) || `visible ${await nav.isVisible()}, #aftercare-count "${await text(page.locator('#aftercare-count'))}"`;
  });
  await nav.click();
  await page.getByRole('heading', { level: 2, name: 'Aftercare' }).waitFor();
  const row = page.locator('table#aftercare tr[data-task-id]').filter({ hasText: state.ref }).filter({ hasText: config.alias });
  await row.first().waitFor();
  await row.first().getByRole('button', { name: 'Done' }).click();
  await toast(page, 'Aftercare done');
  await until('the task to leave the open list', async () => (await row.count()) === 0 || `${await row.count()} rows`);
  const r = await context.request.get('/api/v1/aftercare?state=done');
  const done = (await r.json()).tasks || [];
  assert(done.some((t) => t.case_ref === state.ref && t.done_at), `GET /api/v1/aftercare?state=done: ${JSON.stringify(done)}`);
});

step('staff opens a proactive case', ['staff logs in'], async () => {
  const { page } = state.staff;
  await goHash(page, '#/queue');
  await page.getByRole('link', { name: 'New case', exact: true }).click();
  await page.getByRole('heading', { level: 2, name: 'New proactive case' }).waitFor();
  const form = page.locator('form#new-case-form');
  await form.getByLabel('Summary', { exact: true }).fill('Refugee Week: doctors who re-qualified in the NHS, pitched to regional TV.');
  await until('the topics to load', async () => (await form.locator('#new-topics option').count()) > 0);
  await form.getByLabel('Topics', { exact: true }).selectOption('asylum_process');
  await form.getByLabel('Medium', { exact: true }).selectOption('tv');
  await form.getByLabel('Priority', { exact: true }).selectOption('high');
  await form.getByRole('button', { name: 'Open case' }).click();
  await toast(page, 'Case opened');
  await until('the new case page', async () => /#\/case\/MD-\d{4}-\d{6}$/.test(page.url()) || page.url());
  const ref = page.url().split('#/case/')[1];
  await page.getByRole('heading', { level: 2, name: ref }).waitFor();
  await until('#case-proactive to say "Proactive"', async () => (await page.locator('#case-proactive').isVisible()
    && (await text(page.locator('#case-proactive'))) === 'Proactive') || `#case-proactive: ${await text(page.locator('#case-proactive'))}`);
  await goHash(page, '#/queue');
  const row = page.locator(`table#queue tr[data-ref="${ref}"]`);
  await row.waitFor();
  assert((await text(row.locator('.badge.proactive'))) === 'Proactive', `the queue row of ${ref} has no "Proactive" badge`);
  log(`  proactive case ${ref}`);
});

step('viewer sees reports, not aftercare or new cases', ['viewer logs in', 'the reports page draws its charts'], async () => {
  const { page } = state.viewer;
  await goHash(page, '#/queue');
  await page.locator('table#queue').waitFor({ state: 'attached' });
  assert((await page.getByRole('link', { name: 'New case' }).count()) === 0, 'the viewer has "New case"');
  assert(!(await page.locator('#aftercare-link').isVisible()), 'the viewer has the Aftercare navigation item');
  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  await until('the viewer\'s charts', async () => Number(await page.locator('#report-body').getAttribute('data-charts-drawn')) >= 4
    || `data-charts-drawn=${await page.locator('#report-body').getAttribute('data-charts-drawn')}`);
});

// ---- the runner ----

// The first line of an error, and what Playwright was waiting for (its call log) when it timed out.
function describe(error) {
  const lines = String(error?.message ?? error).split('\n');
  const waiting = lines.find((l) => /^\s*- waiting for /.test(l));
  return waiting ? `${lines[0]} (${waiting.trim().replace(/^- /, '')})` : lines[0];
}

const results = new Map(); // name -> { status: passed | failed | blocked, detail, ms }
let current = '(starting)';
let checkedProblems = 0; // dialogs up to here have failed a step

function summary() {
  console.log('\n== summary');
  for (const s of steps) {
    const r = results.get(s.name) ?? { status: 'not run' };
    const mark = { passed: 'PASS', failed: 'FAIL', blocked: 'SKIP' }[r.status] ?? '----';
    console.log(`${mark}  ${s.name}${r.ms !== undefined ? ` (${r.ms} ms)` : ''}${r.status !== 'passed' && r.detail ? `: ${r.detail}` : ''}`);
  }
}

async function failureShots(index) {
  for (const { label, page } of pages) {
    if (page.isClosed()) continue;
    await page.screenshot({ path: path.join(config.artifacts, `failed-${String(index).padStart(2, '0')}-${label}.png`), fullPage: true, timeout: 5000 })
      .catch(() => {});
  }
}

const overall = setTimeout(() => {
  console.log(`\nFAILED: the scenario ran longer than ${config.totalTimeout} ms (during step "${current}")`);
  summary();
  process.exit(1);
}, config.totalTimeout);

const playwrightVersion = JSON.parse(fs.readFileSync(new URL('./node_modules/playwright-core/package.json', import.meta.url))).version;
log(`scenario against ${config.baseUrl} (node ${process.version}, playwright-core ${playwrightVersion}); artifacts in ${config.artifacts}`);
for (const [i, s] of steps.entries()) {
  const n = i + 1;
  const missing = s.needs.filter((need) => results.get(need)?.status !== 'passed');
  if (missing.length) {
    results.set(s.name, { status: 'blocked', detail: `needs "${missing.join('", "')}"` });
    log(`-- step ${n}: ${s.name}: skipped (needs "${missing.join('", "')}")`);
    continue;
  }
  current = s.name;
  log(`>> step ${n}: ${s.name}`);
  const t0 = Date.now();
  const dialogsBefore = checkedProblems; // one since the last step counts against this one
  let timer;
  try {
    await Promise.race([
      s.run(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`step time limit (${config.stepTimeout} ms) exceeded`)), config.stepTimeout); }),
    ]);
    if (problems.length > dialogsBefore) throw new Error(problems.slice(dialogsBefore).join('; '));
    results.set(s.name, { status: 'passed', ms: Date.now() - t0 });
    log(`ok step ${n}: ${s.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    let detail = describe(e);
    const dialogs = problems.slice(dialogsBefore).join('; ');
    if (dialogs && !detail.includes(dialogs)) detail += `; also ${dialogs}`;
    results.set(s.name, { status: 'failed', detail, ms: Date.now() - t0 });
    log(`FAILED step ${n}: ${s.name}: ${detail}`);
    await failureShots(n);
    if (config.stopAtFirstFailure) break;
  } finally {
    checkedProblems = problems.length;
    clearTimeout(timer);
  }
}

clearTimeout(overall);
if (problems.length > checkedProblems) { // a dialog after the last step still fails the run
  results.set('(after the last step)', { status: 'failed', detail: problems.slice(checkedProblems).join('; ') });
  steps.push({ name: '(after the last step)', needs: [] });
}
await state.browser?.close().catch(() => {});
await state.api?.dispose().catch(() => {});
summary();
const failed = steps.filter((s) => results.get(s.name)?.status !== 'passed');
console.log(`\nscenario time ${seconds(Date.now() - started)}`);
if (failed.length) {
  const first = failed.find((s) => results.get(s.name)?.status === 'failed') ?? failed[0];
  console.log(`FAILED: ${failed.length} of ${steps.length} steps did not pass; first failure: "${first.name}": ${results.get(first.name)?.detail ?? 'not run'}`);
  process.exit(1);
}
console.log(`PASSED: all ${steps.length} steps`);
