// Signs in through ssokit's demo in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Saves a screenshot of every page visited and prints one line per check,
// ending with "N passed, M failed, K skipped". Exit code 1 on any failure.
//
//   DEMO_URL      (default http://127.0.0.1:3000)  the demo with its embedded defaults
//                                                  (development IdPs: OIDC at /dev/idp,
//                                                  SAML at /dev/saml)
//   OP_DEMO_URL   (optional)                       a second demo configured for the real
//                                                  oidc-provider (tests/interop/oidc-provider)
//   ARTIFACTS_DIR (default <repo>/artifacts/browser) where the PNGs go
//   CHROMIUM      (default /usr/bin/chromium)
//
// run.sh starts the servers and runs this. Each scenario is one function taking a fresh
// browser context (its own cookies); to add one, write it and list it in SCENARIOS (a function
// with `ready = false` and a `why` is reported as skipped).

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEMO = (process.env.DEMO_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const OP_DEMO = (process.env.OP_DEMO_URL || '').replace(/\/+$/, '');
const ARTIFACTS = resolve(process.env.ARTIFACTS_DIR || join(HERE, '..', '..', 'artifacts', 'browser'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.BROWSER_TIMEOUT_MS || 15000);

// ------------------------------------------------------------------ checks and screenshots

const results = { passed: 0, failed: 0, skipped: 0 };
let shotNo = 0;

function pass(name) {
  results.passed += 1;
  console.log(`ok    ${name}`);
}

function fail(name, err) {
  results.failed += 1;
  console.log(`FAIL  ${name}: ${String(err?.message || err).split('\n')[0]}`);
}

function skip(name, why) {
  results.skipped += 1;
  console.log(`skip  ${name}: ${why}`);
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

// A full-page PNG of what the user sees now: artifacts/browser/NN-scenario-step.png.
async function shot(page, scenario, step) {
  shotNo += 1;
  const file = join(ARTIFACTS, `${String(shotNo).padStart(2, '0')}-${scenario}-${step}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function text(page) {
  return page.locator('body').innerText();
}

// ------------------------------------------------------------------ steps a user takes

// The demo's start page: type the e-mail, press Next (home-realm discovery).
async function typeEmail(page, base, email, scenario) {
  await page.goto(`${base}/`);
  await shot(page, scenario, 'login');
  await page.locator('input[name="email"]').fill(email);
  await Promise.all([
    page.waitForURL((url) => !url.href.startsWith(`${base}/`) || url.pathname !== '/', {
      waitUntil: 'load',
    }),
    page.getByRole('button', { name: /next/i }).click(),
  ]);
}

// The development IdP's sign-in page: the login is prefilled from login_hint; press Sign in.
async function devIdpSignIn(page, base, email, scenario) {
  await page.waitForURL(/\/dev\/idp\/authorize/);
  await shot(page, scenario, 'dev-idp');
  const login = page.locator('#login');
  expect((await login.inputValue()) === email, `the IdP page is not prefilled with ${email}`);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(base) && !url.pathname.startsWith('/dev/idp')),
    page.getByRole('button', { name: 'Sign in', exact: true }).click(),
  ]);
}

// ------------------------------------------------------------------ scenarios

// Just in time: dave@acme.test has no account yet; one is created with the template's role.
async function jitDave(ctx) {
  const page = await ctx.newPage();
  await typeEmail(page, DEMO, 'dave@acme.test', 'jit');
  await devIdpSignIn(page, DEMO, 'dave@acme.test', 'jit');
  await shot(page, 'jit', 'signed-in');
  const body = await text(page);
  expect(/Dave/.test(body), 'the signed-in page does not name Dave');
  expect(/member/.test(body), 'the signed-in page does not show the role "member"');
  expect(/dave@acme\.test/.test(body), 'the signed-in page does not show the linked identity');
  const me = await (await page.request.get(`${DEMO}/me`)).json();
  expect(me.email === 'dave@acme.test' && me.role === 'member', `/me says ${JSON.stringify(me)}`);
}

// The link offer page: "Add to existing account", read the mail in /dev/outbox, open the link.
async function linkThroughOutbox(page, scenario, email) {
  await shot(page, scenario, 'offer');
  expect(/already have an account/i.test(await text(page)), 'no link offer page');
  await page.getByRole('button', { name: 'Add to existing account' }).click();
  await page.waitForLoadState('load');
  await shot(page, scenario, 'mailed');
  expect(/check your e-mail/i.test(await text(page)), 'no "check your e-mail" page');
  await page.goto(`${DEMO}/dev/outbox`);
  await shot(page, scenario, 'outbox');
  const mails = JSON.parse(await text(page));
  const mail = mails.filter((m) => m.to === email).at(-1);
  expect(mail?.link, `no confirmation mail to ${email} in /dev/outbox`);
  await page.goto(mail.link);
  await page.waitForURL(`${DEMO}/`);
  await shot(page, scenario, 'signed-in');
  return text(page);
}

// Linking: Ann has an account; she adds SSO to it through the mailed link.
async function linkAnn(ctx) {
  const page = await ctx.newPage();
  await typeEmail(page, DEMO, 'ann@acme.test', 'link');
  await devIdpSignIn(page, DEMO, 'ann@acme.test', 'link');
  const body = await linkThroughOutbox(page, 'link', 'ann@acme.test');
  expect(/Ann/.test(body), 'the signed-in page does not name Ann');
  expect(/admin/.test(body), 'Ann is not signed in to her existing (admin) account');
}

// Refusal: two accounts share bob@acme.test; the page explains and shows a trace id.
async function deniedBob(ctx) {
  const page = await ctx.newPage();
  await typeEmail(page, DEMO, 'bob@acme.test', 'denied');
  await devIdpSignIn(page, DEMO, 'bob@acme.test', 'denied');
  await shot(page, 'denied', 'page');
  const body = await text(page);
  expect(/several accounts/i.test(body), 'the denial does not say why');
  expect(/Reference:\s*\S{8,}/.test(body), 'the denial page shows no trace id');
}

// A real OpenID provider (panva/oidc-provider, op.mjs): its devInteractions login page has
// a `login` field; a consent page may follow.
async function oidcProvider(ctx) {
  const page = await ctx.newPage();
  const op = await fetch(`${OP_DEMO}/`).catch(() => null);
  expect(op, `the demo for oidc-provider does not answer at ${OP_DEMO}`);
  await typeEmail(page, OP_DEMO, 'dave@acme.test', 'oidc-provider');
  await page.waitForSelector('input[name="login"]');
  await shot(page, 'oidc-provider', 'op-login');
  await page.locator('input[name="login"]').fill('dave');
  const password = page.locator('input[name="password"]');
  if (await password.count()) await password.fill('any');
  await page.locator('button[type="submit"]').first().click();
  for (let hop = 0; hop < 3; hop += 1) {
    await page.waitForLoadState('load');
    if (page.url().startsWith(`${OP_DEMO}/`)) break;
    // A consent (or other interaction) page of the provider: continue.
    await shot(page, 'oidc-provider', `op-step${hop + 1}`);
    await page.locator('button[type="submit"]').first().click();
  }
  await page.waitForURL(`${OP_DEMO}/`);
  await shot(page, 'oidc-provider', 'signed-in');
  const body = await text(page);
  expect(/dave@acme\.test/.test(body), 'not signed in as dave@acme.test');
  expect(/member/.test(body), 'the role "member" is not shown');
}

// SAML through the demo's development SAML IdP (/dev/saml, tenant globex): its sign-in page,
// then an auto-submitted POST of the signed Response to the demo's ACS (bounced once through a
// same-site form when the browser withholds the SameSite=Lax flow cookie).
async function samlSignIn(page, email, scenario) {
  await typeEmail(page, DEMO, email, scenario);
  await page.waitForURL(/\/dev\/saml\//);
  await shot(page, scenario, 'dev-saml-idp');
  await page.locator('#login').fill(email);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  // Past the IdP's auto-posting page and the ACS's same-site bounce: one of the demo's pages.
  await page
    .locator('h1')
    .filter({ hasText: /Welcome|already have an account|could not sign you in/ })
    .waitFor();
}

// SAML, just in time: greg@globex.test has no account yet.
async function samlGreg(ctx) {
  const page = await ctx.newPage();
  await samlSignIn(page, 'greg@globex.test', 'saml-jit');
  await page.waitForURL(`${DEMO}/`);
  await shot(page, 'saml-jit', 'signed-in');
  const body = await text(page);
  expect(/greg@globex\.test/.test(body), 'not signed in as greg@globex.test');
  expect(/globex/.test(body) && /member/.test(body), 'organisation globex / role member not shown');
}

// SAML, linking: gina@globex.test has an account; she links it through the mailed link.
async function samlGina(ctx) {
  const page = await ctx.newPage();
  await samlSignIn(page, 'gina@globex.test', 'saml-link');
  const body = await linkThroughOutbox(page, 'saml-link', 'gina@globex.test');
  expect(/Gina/.test(body) && /globex/.test(body), 'not signed in to Gina\'s globex account');
}

const SCENARIOS = [
  ['dev IdP: dave@acme.test is created just in time and signed in', jitDave],
  ['dev IdP: ann@acme.test links her existing account through the mailed link', linkAnn],
  ['dev IdP: bob@acme.test is refused with a reason and a trace id', deniedBob],
  ['oidc-provider: dave@acme.test signs in through a real OpenID provider', oidcProvider],
  ['SAML dev IdP: greg@globex.test is created just in time (HTTP-POST to the ACS)', samlGreg],
  ['SAML dev IdP: gina@globex.test links her existing account through the mailed link', samlGina],
];

// ------------------------------------------------------------------ main

mkdirSync(ARTIFACTS, { recursive: true });
for (const f of readdirSync(ARTIFACTS)) if (f.endsWith('.png')) rmSync(join(ARTIFACTS, f));

// launch() starts Chromium with a fresh, empty, temporary --user-data-dir of its own.
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-quic',
    '--no-first-run',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  console.log(`chromium ${browser.version()}; demo ${DEMO}${OP_DEMO ? `; oidc-provider demo ${OP_DEMO}` : ''}`);
  for (const [name, scenario] of SCENARIOS) {
    if (scenario.ready === false) {
      skip(name, scenario.why);
      continue;
    }
    if (scenario === oidcProvider && !OP_DEMO) {
      skip(name, 'OP_DEMO_URL is not set');
      continue;
    }
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    ctx.setDefaultTimeout(TIMEOUT_MS);
    try {
      await scenario(ctx);
      pass(name);
    } catch (err) {
      const page = ctx.pages().at(-1);
      if (page) await shot(page, 'failure', scenario.name).catch(() => {});
      fail(name, err);
      if (page) console.log(`      at ${page.url()}`);
    } finally {
      await ctx.close();
    }
  }
} finally {
  await browser.close();
}
console.log(`screenshots: ${ARTIFACTS}`);
console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
process.exit(results.failed ? 1 : 0);
