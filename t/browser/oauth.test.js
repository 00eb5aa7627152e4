// "Login to HealthSherpa" in a real browser (seed 000, Agent
// Authentication): the console's button opens HealthSherpa's authorize
// page (the fake's, which sends the agent straight back) in a new tab;
// the callback location queues the code; that tab says "Logged in".
// Then a second use of the same link is refused, clearly.  Run by
// t/worker/405-console-oauth.t; output as console.test.js's.
//
// Environment: CONSOLE_URL, CONSOLE_TOKEN, AGENT, SHOTS, CHROMIUM.
'use strict';

const { env, check, note, launch, watch, textOf, run } = require('./lib');
const path = require('path');

const URL = env('CONSOLE_URL');
const TOKEN = env('CONSOLE_TOKEN');
const AGENT = env('AGENT');
const SHOTS = env('SHOTS');
const WAIT = 30000;

async function main() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  watch(page, errors);

  await page.goto(URL);
  await page.focus('#token-input');
  await page.keyboard.type(TOKEN);
  await page.keyboard.press('Enter');
  check(await textOf(page, '#token-state', /Signed in/), 'signed in');

  // the button, by keyboard: a new tab, HealthSherpa's page, back to us
  await page.fill('#hslogin-agent', AGENT);
  await page.focus('#hslogin-go');
  const [tab] = await Promise.all([
    context.waitForEvent('page', { timeout: WAIT }),
    page.keyboard.press('Enter'),
  ]);
  watch(tab, errors);
  let t = await textOf(page, '#hslogin-result', /opened in a new tab/);
  check(t, 'the console says the login opened in a new tab', t);
  await tab.waitForURL(/\/oauth\/healthsherpa\/\?/, { timeout: WAIT });
  const back = tab.url();
  check(/[?&]code=/.test(back) && /[?&]state=[0-9a-f]{32}/.test(back),
        'HealthSherpa sent the tab back to the callback with a code and the state', back);
  t = await textOf(tab, '#state', /^Logged in to HealthSherpa/);
  check(t, 'the tab says: Logged in to HealthSherpa', t);
  await tab.screenshot({ path: path.join(SHOTS, 'console-oauth.png') });
  note('screenshot console-oauth.png');

  // the same link again: refused, with what to do
  const again = await context.newPage();
  watch(again, errors);
  const res = await again.goto(back);
  t = await again.textContent('#state');
  check(res.status() === 400 && /used already/.test(t),
        'the same link again: 400, "used already"', [res.status(), t]);

  check(errors.length === 0, 'no script error, no CSP violation', errors);
  await browser.close();
}

run(main);
