// What the browser tests share: their environment, their checks (one
// JSON line each, {"ok":bool,"name":…}, which Caresync::Worker's
// run_browser() turns into tests), Debian's chromium, and waits for text.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

let failed = 0;

function env(k) {
  if (!process.env[k]) { throw new Error(`${k} is not set`); }
  return process.env[k];
}

function check(ok, name, detail) {
  console.log(JSON.stringify({ ok: !!ok, name, detail: ok ? undefined
                                                           : detail }));
  if (!ok) { failed++; }
}

function note(text) { console.log(JSON.stringify({ note: text })); }

async function shot(page, name) {
  const file = path.join(env('SHOTS'), `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  note(`screenshot ${file}`);
}

function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
}

// script errors and CSP refusals into `errors`; not the answers a check
// expects (a 401, a 400, the favicon the console does not have)
function watch(page, errors) {
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) {
      errors.push(m.text());
    }
  });
}

// waits for `sel` to hold text matching `re`; the text, or null
async function textOf(page, sel, re, timeout) {
  try {
    await page.waitForFunction(([s, src]) => {
      const e = document.querySelector(s);
      return e && new RegExp(src).test(e.textContent);
    }, [sel, re.source], { timeout: timeout || 60000 });
    return await page.textContent(sel);
  } catch (e) {
    return null;
  }
}

// runs the test; the exit status says whether every check passed
function run(main) {
  main().then(() => process.exit(failed ? 1 : 0), (e) => {
    check(false, 'the browser run', String(e && e.stack || e));
    process.exit(1);
  });
}

module.exports = { env, check, note, shot, launch, watch, textOf, run };
