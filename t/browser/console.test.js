// The console in a real browser: Debian's chromium, headless, driven by
// playwright-core, with the keyboard where a person would use it.  Run by
// t/worker/400-console-browser.t, which starts Redis, the fakes, nginx and
// (when this script says so) the worker.  Each check prints one JSON line
// {"ok":bool,"name":…} that the .t turns into a test; the exit status is 0
// only when every check passed.  Screenshots go to $SHOTS/console-*.png.
//
// Environment: CONSOLE_URL, CONSOLE_TOKEN, DEAD_JOB (a dead letter's job
// id), BATCH (a batch queued before the worker runs), READY (a file to
// write once the batch was seen unfinished: the .t then starts the
// worker), SHOTS, CHROMIUM (default /usr/bin/chromium).
'use strict';

const { env, check, shot, launch, watch, textOf, run } = require('./lib');

const URL = env('CONSOLE_URL');
const TOKEN = env('CONSOLE_TOKEN');
const DEAD_JOB = env('DEAD_JOB');
const BATCH = env('BATCH');
const READY = env('READY');
const WAIT = 60000;
const fs = require('fs');

async function typeInto(page, sel, text) {
  await page.focus(sel);
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

async function main() {
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const errors = [];
  watch(page, errors);

  await page.goto(URL);
  check(await page.title() === 'caresync console', 'the page loads');

  // ---- a wrong token: the person is told, nothing else is shown ----
  await typeInto(page, '#token-input', TOKEN + '-wrong');
  let t = await textOf(page, '#token-state', /refused \(401\)/);
  check(t, 'a wrong token: the page says 401', t);
  check((await page.$$('#dlq-table tbody tr')).length === 0,
        'a wrong token: no dead letters shown');
  await shot(page, '401');

  // ---- the right one, typed, Enter ----
  await typeInto(page, '#token-input', TOKEN);
  t = await textOf(page, '#token-state', /Signed in/);
  check(t, 'the token is accepted', t);

  // ---- the batch, before the worker runs: its bar is not full ----
  const pct = `#batch-${BATCH} .pct`;
  t = await textOf(page, pct, /^0\/2 \(0 %\)$/);
  check(t, 'the batch is listed at 0/2 (0 %) before the worker runs', t);
  const before = await page.$eval(`#batch-${BATCH} progress`,
                                  (e) => [e.value, e.max]);
  check(before[0] === 0 && before[1] === 2, 'its bar is empty', before);
  fs.writeFileSync(READY, 'batch seen\n');

  // ---- the worker runs it: the bar moves to 100 % by itself ----
  t = await textOf(page, pct, /^2\/2 \(100 %\) finished$/);
  check(t, 'the batch reaches 2/2 (100 %) finished, by polling', t);
  const after = await page.$eval(`#batch-${BATCH} progress`,
                                 (e) => [e.value, e.max]);
  check(after[0] === 2 && after[1] === 2, 'its bar is full', after);
  t = await page.textContent(`#batch-${BATCH} .counts`);
  check(/matched 1/.test(t) && /no match 1/.test(t),
        'its counts: matched 1, no match 1', t);
  check(await page.isDisabled(`#batch-${BATCH} .abort`),
        'a finished batch cannot be aborted');

  // results, filtered to "no match", with the message a person acts on
  await page.click(`#batch-${BATCH} button:has-text("Results")`);
  await page.waitForSelector('#results-table tbody tr');
  await page.selectOption('#results-filter', 'no_match');
  const rows = await page.$$eval('#results-table tbody tr',
    (trs) => trs.filter((tr) => !tr.hidden).map((tr) => tr.textContent));
  check(rows.length === 1 && /No matching HealthSherpa contact found/.test(rows[0]),
        'results filtered to no match: one row with its message', rows);

  // the CSV report, downloaded: every result, as `batch report` begins
  const [dl] = await Promise.all([page.waitForEvent('download'),
                                  page.click('#results-csv')]);
  const csv = fs.readFileSync(await dl.path(), 'utf8').split('\r\n');
  check(dl.suggestedFilename() === `batch-${BATCH}.csv`,
        'the CSV report is downloaded as batch-<id>.csv',
        dl.suggestedFilename());
  check(csv[0] === 'contact_id,status,message,job_id' && csv.length === 4
        && csv.slice(1, 3).sort().join('|') === [
          `003Hs00001AbCdEIAV,matched,Synced from HealthSherpa,${BATCH}-000001`,
          `003Hs00001XyZwVIAV,no_match,No matching HealthSherpa contact found,${BATCH}-000002`,
        ].join('|'),
        '... with its header and one line per contact, whatever the filter',
        csv);
  t = await textOf(page, '#results-csv-state', /^2 result\(s\) in /);
  check(t, '... and the page says what it wrote', t);
  await shot(page, 'batch');

  // ---- job lookup by id, with the keyboard ----
  await typeInto(page, '#lookup-input', DEAD_JOB);
  t = await textOf(page, '#lookup-result', /statusfailed/);
  check(t, 'the dead job is looked up: failed', t);
  check(t && t.includes('attempts3'), 'with its attempts', t);

  // ---- the dead letter, replayed, becomes a finished job ----
  // a second reviewer's tab lists it too, before the replay
  const other = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  watch(other, errors);
  await other.goto(URL);
  await typeInto(other, '#token-input', TOKEN);
  const row = `#dlq-table tbody tr[data-job="${DEAD_JOB}"]`;
  await other.waitForSelector(row, { timeout: WAIT });

  await page.click('#dlq-refresh');
  await page.waitForSelector(row, { timeout: WAIT });
  t = await page.textContent(row);
  check(/HTTP 503/.test(t), 'the dead letter shows its last error', t);
  await page.focus(`${row} button`);
  await page.keyboard.press('Enter');
  t = await textOf(page, `${row} .replay-done`, /^Replayed: job /);
  check(t && !/(failed|retrying|queued|running)$/.test(t),
        'the replay ends in a finished job',
        t || await page.textContent(`${row} td:last-child`));
  await shot(page, 'dlq');

  // the second tab's Replay, now stale: told so, with nothing to retry
  await other.click(`${row} button`);
  t = await textOf(other, `${row} td:last-child`, /replayed already/);
  check(t && (await other.$$(`${row} button`)).length === 0,
        'a second replay of it is told it was replayed already', t);
  await other.close();

  await page.click('#dlq-refresh');
  t = await textOf(page, '#dlq-state', /empty/);
  check(t, 'the dead-letter queue is empty afterwards', t);

  await typeInto(page, '#lookup-input', DEAD_JOB);
  t = await textOf(page, '#lookup-result', /status(updated|matched|no_match|skipped)/);
  check(t, 'the replayed job now reads finished', t);
  t = await textOf(page, '#lookup-result .timeline',
                   /attempt 1 started .*: updated.*PATCH \S+\/sobjects\/Contact\/\{id\} -> 204 \(\d+ ms\)/);
  check(t, '... with its timeline: the attempt and its CRM write', t);

  // ---- the jobs about a contact, about a patient (the worker's index) ----
  await page.selectOption('#lookup-by', 'contact');
  await typeInto(page, '#lookup-input', '003Hs00001XyZwVIAV');
  t = await textOf(page, '#lookup-result', /^1 job\(s\) about 003Hs00001XyZwVIAV/);
  check(t, 'lookup by CRM contact id: one job', t);
  t = await page.textContent('#lookup-jobs tbody');
  check(/no_match/.test(t) && /No matching HealthSherpa contact found/.test(t),
        '... the batch item, no match, with its message', t);
  await page.click('#lookup-jobs tbody button');
  t = await textOf(page, '#lookup-result', /typebatch\.item/);
  check(t, '... whose record opens with a click', t);

  await page.selectOption('#lookup-by', 'patient');
  await typeInto(page, '#lookup-input', 'ha-100');
  t = await textOf(page, '#lookup-jobs tbody', new RegExp(DEAD_JOB + '.*updated'));
  check(t, 'lookup by source patient id: the replayed job, updated', t);
  await shot(page, 'lookup');
  await page.selectOption('#lookup-by', 'job');

  // ---- "Sync from HealthSherpa" for a contact: the outcome when it ends ----
  await page.fill('#contact-input', '003Hs00001AbCdEIAV');
  await page.fill('#agent-input', 'agent@example.org');
  await page.focus('#sync-hs');
  await page.keyboard.press('Enter');
  // the batch synced this contact already: nothing is left to write
  t = await textOf(page, '#contact-result', /^job.*status(matched|no_match|updated|skipped|failed)/);
  check(t && /statusskipped/.test(t) && /already had every value/.test(t),
        'Sync from HealthSherpa: the job ends, with its message', t);
  check(t && /healthsherpa contact id[0-9a-f-]{36}/.test(t),
        '... and the HealthSherpa contact it found', t);
  await shot(page, 'contact');

  // ---- the sync log, debug and up, from the start ----
  await page.selectOption('#log-level', 'debug');
  await page.selectOption('#log-since', '0');
  await page.click('#log-form button[type=submit]');
  t = await textOf(page, '#log-state', /^[1-9]\d* line\(s\)/);
  check(t, 'the sync log shows lines', t);
  const lines = await page.$$eval('#log-table tbody tr',
                                  (trs) => trs.map((tr) => tr.textContent));
  check(lines.some((l) => l.includes(`job_id=${DEAD_JOB}`)),
        'among them the replayed job\'s', lines.length);
  await shot(page, 'log');

  check(errors.length === 0, 'no script error, no CSP violation', errors);
  await browser.close();
}

run(main);
