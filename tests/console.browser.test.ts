/**
 * The web console (/console/) and the demo page (/demo/) in headless Chromium, against a real
 * server process in development mode (as `npm start` runs it) and real SDK clients:
 * sign-in (secret key and admin UserSig), a switch flipped in the console takes effect for an SDK
 * client at once, a status change reaches the live view within a second, the webhook log shows
 * failures and dead letters, and the demo flow end to end (three users in three tabs: custom
 * status, subscribe, friends, a closed tab seen OFFLINE). Screenshots at desktop and phone widths
 * go to test-output/screenshots (PRESENTLY_UPDATE_SCREENSHOTS=1 also refreshes docs/*.png).
 *
 * Needs /usr/bin/chromium (Debian's package): skipped loudly without it, required under CI=true.
 * No fixed sleeps: every wait is for a DOM change, an SDK event or a reply.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import Presently from '@presently/client';
import { ErrorCode } from '@presently/protocol';
import { DESKTOP, PHONE, axeViolations, buildConsole, chromiumSkip, launchChromium, screenshot, startDevServer, type DevServer } from './helpers/browser.js';
import { destroyAll, sdk, type Watched } from './helpers/sdk.js';
import { rest } from './helpers/rest.js';

const skip = chromiumSkip('the console and demo browser tests');
// The webhook receiver below listens on loopback, refused by the egress policy unless allowed; the
// development server (no config file) takes the allow-list from its environment, this one's.
process.env.PRESENTLY_WEBHOOK_ALLOW_NETWORKS = '127.0.0.1/32';
const { USER_STATUS_ONLINE: ONLINE } = Presently.TYPES;

let srv: DevServer;
let browser: Browser;
let consoleCtx: BrowserContext;
let admin: Page;
let hook: Server;
let hookUrl = '';
const hookSeen: string[] = [];
let alice: Watched;
let bob: Watched;

before(async () => {
  if (skip) return;
  buildConsole();
  // A webhook receiver that refuses every event of e2e-carol (500) and takes the rest.
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hookSeen.push(body);
      res.writeHead(body.includes('"e2e-carol"') ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/presently-hook`;
  [srv, browser] = await Promise.all([startDevServer(), launchChromium()]);
  consoleCtx = await browser.newContext({ viewport: DESKTOP });
  // Fail fast: the whole file must stay well inside the runner's 60 s.
  consoleCtx.setDefaultTimeout(8000);
  admin = await consoleCtx.newPage();
  admin.on('pageerror', (err) => console.error('[console page error]', err));
});

after(async () => {
  if (skip) return;
  await destroyAll();
  await browser?.close();
  await srv?.stop();
  await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
});

const url = (path: string) => `${srv.http}${path}`;

async function signInWithKey(page: Page, key: string): Promise<void> {
  await page.getByLabel('SDKAppID').fill(String(srv.SDKAppID));
  await page.getByRole('radio', { name: 'The app’s secret key' }).check();
  await page.getByLabel('Secret key', { exact: true }).fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('console: sign in with the secret key (a wrong one is refused), sign out, sign in with an admin UserSig', { skip }, async () => {
  await admin.goto(url('/console/'));
  const form = admin.locator('#signin');
  await form.waitFor();
  // On a development server the page fills in the development app's SDKAppID.
  assert.equal(await admin.getByLabel('SDKAppID').inputValue(), String(srv.SDKAppID));
  assert.deepEqual(await axeViolations(admin), [], 'accessibility of the sign-in page');
  await screenshot(admin, 'console-signin-desktop');

  await signInWithKey(admin, 'not-the-secret-key');
  await admin
    .getByRole('alert')
    .filter({ hasText: String(ErrorCode.USERSIG_KEY_MISMATCH) })
    .waitFor();
  assert.equal(await admin.locator('#live').isVisible(), false);

  // Keyboard: the skip link is the first stop and leads to the content; Enter in a field submits.
  assert.equal(await admin.evaluate(() => document.querySelector('a[href], button, input, select, textarea')?.textContent), 'Skip to content');
  await admin.getByRole('link', { name: 'Skip to content' }).press('Enter');
  assert.equal(await admin.evaluate(() => document.activeElement?.id), 'main');
  await admin.getByLabel('Secret key', { exact: true }).fill(srv.secretKey);
  await admin.getByLabel('Secret key', { exact: true }).press('Enter');
  await admin.locator('#stream-state', { hasText: 'Live' }).waitFor();
  assert.equal(await admin.locator('#who-text').textContent(), `App ${srv.SDKAppID} · administrator`);
  // The key is not kept anywhere in the page.
  const stored = await admin.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  assert.ok(!stored.includes(srv.secretKey));

  await admin.getByRole('button', { name: 'Sign out' }).click();
  await form.waitFor();
  await admin.getByRole('radio', { name: 'Admin UserSig' }).check();
  await admin.getByLabel('UserSig', { exact: true }).fill(srv.sig('administrator'));
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.locator('#stream-state', { hasText: 'Live' }).waitFor();
  // The console's own stream is no session: the admin is not an account, nobody is online.
  assert.equal(await admin.locator('#count-online').textContent(), '0');
});

test('console: the query switch turned off refuses an SDK client with 72001 at once; on again, it works', { skip }, async () => {
  alice = await sdk(srv, 'e2e-alice');
  bob = await sdk(srv, 'e2e-bob');
  const ask = () => bob.client.getUserStatus({ userIDList: ['e2e-alice'] });
  assert.equal((await ask()).data.successUserList[0]?.statusType, ONLINE);

  await admin.getByRole('link', { name: 'Settings' }).click();
  const sw = admin.getByRole('switch', { name: 'User status query and status change notification' });
  await sw.waitFor();
  assert.equal(await sw.isChecked(), true);
  await sw.uncheck();
  await admin.getByRole('button', { name: 'Save' }).click();
  await admin.locator('#settings-ok', { hasText: 'Saved' }).waitFor();
  await assert.rejects(ask(), (e: { code: number }) => e.code === ErrorCode.FEATURE_NOT_ENABLED);

  await sw.check();
  await admin.getByRole('button', { name: 'Save' }).click();
  await admin.locator('#settings-ok', { hasText: 'userStatus.queryAndNotify' }).waitFor();
  assert.equal((await ask()).data.successUserList[0]?.statusType, ONLINE);

  // A bad value is refused with the server's words, next to its field; nothing changes.
  const max = admin.getByLabel('IDs per status query');
  await max.fill('0');
  await admin.getByRole('button', { name: 'Save' }).click();
  await admin.getByRole('alert').filter({ hasText: 'Settings.limits.maxQueryIDs: must be an integer from 1 to 10000' }).waitFor();
  assert.equal(await max.getAttribute('aria-invalid'), 'true');
  assert.equal(await admin.evaluate(() => document.activeElement?.id), 's-limit-maxQueryIDs');
  await admin.getByRole('button', { name: 'Discard changes' }).click();
  assert.equal(await max.inputValue(), '500');
});

test('console: a status change made by an SDK client is in the live view within a second', { skip }, async () => {
  await admin.getByRole('link', { name: 'Live' }).click();
  await admin.locator('#users-body tr[data-user="e2e-alice"]').waitFor();
  const started = Date.now();
  await alice.client.setSelfStatus({ customStatus: 'in a meeting' });
  await admin.locator('#feed li[data-user="e2e-alice"]', { hasText: 'in a meeting' }).waitFor({ timeout: 1000 });
  const ms = Date.now() - started;
  assert.ok(ms < 1000, `the change took ${ms} ms to show`);
  await admin.locator('#users-body tr[data-user="e2e-alice"] .cs', { hasText: 'in a meeting' }).waitFor({ timeout: 1000 });
  await admin.locator('#count-online', { hasText: '2' }).waitFor();

  // bob logs out: UNLOGINED in the feed and in the counts.
  await bob.client.logout();
  await admin.locator('#feed li[data-user="e2e-bob"][data-status="3"]').waitFor({ timeout: 1000 });
  await admin.locator('#count-unlogined', { hasText: '1' }).waitFor();

  // Search by prefix, then by status.
  await admin.getByLabel('userID starts with').fill('e2e-b');
  await admin.locator('#users-body tr').filter({ hasText: 'e2e-alice' }).waitFor({ state: 'detached' });
  assert.deepEqual(await admin.locator('#users-body tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user'))), ['e2e-bob']);
  await admin.getByLabel('userID starts with').fill('');
  await admin.getByLabel('Status', { exact: true }).selectOption('online');
  await admin.locator('#users-body tr[data-user="e2e-bob"]').waitFor({ state: 'detached' });
  await admin.getByLabel('Status', { exact: true }).selectOption('');
  await admin.locator('#users-body tr[data-user="e2e-bob"]').waitFor();
  // The devices column tells a live session from a kept login.
  assert.match((await admin.locator('#users-body tr[data-user="e2e-alice"]').textContent()) ?? '', /Web · online/);
});

test('console: a hostile Nick, userID and custom status are shown as text, and no script of theirs runs', { skip }, async () => {
  const markup = (tag: string) => `<img src=x onerror="window.__pwned='${tag}'">`;
  const id = '<b>evil</b>';
  const adm = { usersig: srv.sig('administrator'), sdkappid: String(srv.SDKAppID) };
  assert.equal((await rest(srv, 'im_open_login_svc/account_import', { UserID: id, Nick: markup('nick') }, adm)).ActionStatus, 'OK');
  const evil = await sdk(srv, id);
  await evil.client.setSelfStatus({ customStatus: markup('status') });
  await admin.getByRole('link', { name: 'Live' }).click();
  await admin.getByLabel('userID starts with').fill('<b>');
  const row = admin.locator(`#users-body tr[data-user="${id}"]`);
  await row.locator('.cs', { hasText: markup('status') }).waitFor();
  const text = (await row.textContent()) ?? '';
  assert.ok(text.includes(id) && text.includes(markup('nick')), `the row shows the texts as written: ${text}`);
  await admin
    .locator('#feed li', { hasText: markup('status') })
    .first()
    .waitFor();
  // Nothing was parsed as markup: no <b> or <img> inside the row or the feed, no handler ran.
  assert.equal(await admin.locator('#users-body img, #users-body b, #feed img, #feed b').count(), 0);
  assert.equal(await admin.evaluate(() => (window as { __pwned?: string }).__pwned ?? null), null);
  await admin.getByLabel('userID starts with').fill('');
  await evil.client.logout();
});

test('console: the webhook set in the settings; deliveries, failures and dead letters in the log', { skip }, async () => {
  await admin.getByRole('link', { name: 'Settings' }).click();
  await admin.getByLabel('URL', { exact: true }).fill(hookUrl);
  await admin.getByLabel('Signing secret', { exact: true }).fill('console-test-webhook-secret');
  await admin.getByLabel('Attempts before dead letter').fill('1');
  await admin.getByRole('button', { name: 'Save' }).click();
  await admin.locator('#settings-ok', { hasText: 'webhook' }).waitFor();
  assert.match((await admin.getByLabel('Signing secret', { exact: true }).getAttribute('placeholder')) ?? '', /set/);

  // carol's events are refused by the receiver (dead at the first failure); alice's are taken.
  const carol = await sdk(srv, 'e2e-carol');
  await carol.client.setSelfStatus({ customStatus: 'busy' });
  await alice.client.setSelfStatus({ customStatus: 'back' });

  await admin.getByRole('link', { name: 'Webhooks' }).click();
  await admin.locator('#wh-target code', { hasText: hookUrl }).waitFor();
  // The log is read again every few seconds while shown; Refresh reads it at once.
  const deadRow = admin.locator('#wh-dead tbody tr', { hasText: 'e2e-carol' }).first();
  const deliveredRow = admin.locator('#wh-attempts tbody tr[data-outcome="delivered"]', { hasText: 'e2e-alice' }).first();
  while (!(await deadRow.isVisible()) || !(await deliveredRow.isVisible())) {
    await Promise.all([admin.waitForResponse((r) => r.url().includes('get_webhook_log')), admin.getByRole('button', { name: 'Refresh' }).click()]);
  }
  assert.match((await admin.locator('#wh-attempts tbody tr[data-outcome="dead"]', { hasText: 'e2e-carol' }).first().textContent()) ?? '', /500/);
  assert.match((await deadRow.textContent()) ?? '', /HTTP 500|500/);
  assert.ok(Number(await admin.locator('#wh-stats [data-stat="deadLettered"]').textContent()) >= 1);

  // Screenshots of each section at desktop and phone widths; axe finds no WCAG A/AA violation.
  for (const viewport of [DESKTOP, PHONE]) {
    await admin.setViewportSize(viewport);
    const size = viewport === DESKTOP ? 'desktop' : 'phone';
    for (const section of ['Live', 'Settings', 'Webhooks']) {
      await admin.getByRole('link', { name: section }).click();
      await admin.locator(`#${section.toLowerCase()}-h:focus`).waitFor();
      await screenshot(admin, `console-${section.toLowerCase()}-${size}`);
      if (size === 'desktop') assert.deepEqual(await axeViolations(admin), [], `accessibility of ${section}`);
    }
  }
  // Nothing is wider than the phone's screen.
  assert.ok(await admin.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the console scrolls sideways at 390 px');
  await admin.setViewportSize(DESKTOP);
  await carol.client.logout();
});

test('demo: three users in three tabs: custom status, subscribe, friends, a closed tab seen OFFLINE', { skip }, async () => {
  const ctx = await browser.newContext({ viewport: DESKTOP });
  ctx.setDefaultTimeout(8000);
  try {
    const tab = async (path: string) => {
      const p = await ctx.newPage();
      p.on('pageerror', (err) => console.error('[demo page error]', err));
      await p.goto(url(path));
      return p;
    };
    const card = (p: Page, user: string) => p.locator(`#others li[data-user="${user}"]`);
    // Clicks wait for animation frames, which a background tab gets rarely: act in the front tab.
    const front = async (p: Page) => {
      await p.bringToFront();
      return p;
    };

    // Tab A picks demo-alice in the form; tabs B and C open as the "new tab" links do.
    const a = await tab('/demo/');
    await a.setViewportSize(PHONE);
    await screenshot(a, 'demo-pick-phone');
    assert.deepEqual(await axeViolations(a), [], 'accessibility of the demo sign-in');
    await a.getByRole('radio', { name: 'demo-alice' }).check();
    await a.getByRole('button', { name: 'Log in' }).click();
    await a.getByRole('heading', { name: 'You are demo-alice' }).waitFor();
    const [b, c] = await Promise.all([tab('/demo/?as=demo-bob'), tab('/demo/?as=demo-carol')]);
    await b.getByRole('heading', { name: 'You are demo-bob' }).waitFor();
    await c.getByRole('heading', { name: 'You are demo-carol' }).waitFor();

    await front(a);
    await a.getByLabel('Custom status').fill('listening to music');
    await a.getByRole('button', { name: 'Set status' }).click();
    await a.locator('#me-status', { hasText: 'listening to music' }).waitFor();

    // bob subscribes to alice; carol and alice become friends (heard without subscribing).
    await front(b);
    await b.getByRole('button', { name: 'Subscribe to demo-alice' }).click();
    await card(b, 'demo-alice').getByText('“listening to music”').waitFor();
    await card(b, 'demo-alice').locator('.badge', { hasText: 'Online' }).waitFor();
    await front(c);
    await c.getByRole('button', { name: 'Add friend demo-alice' }).click();
    await c.getByRole('button', { name: 'Friends with demo-alice' }).waitFor();

    await front(a);
    await a.getByLabel('Custom status').fill('on a walk');
    await a.getByRole('button', { name: 'Set status' }).click();
    await card(b, 'demo-alice').getByText('“on a walk”').waitFor();
    await card(c, 'demo-alice').getByText('“on a walk”').waitFor();
    await c.locator('#events li[data-user="demo-alice"]', { hasText: 'on a walk' }).waitFor();

    // The console sees the demo users too.
    await front(admin);
    await admin.goto(url('/console/#live'));
    await admin.locator('#stream-state', { hasText: 'Live' }).waitFor();
    await admin.getByLabel('userID starts with').fill('demo-');
    await admin.locator('#users-body tr[data-user="demo-carol"]').waitFor();

    // carol logged in after bob read her status: a snapshot until he reads it again.
    await front(b);
    await b.getByRole('button', { name: 'Refresh statuses' }).click();
    await card(b, 'demo-carol').locator('.badge', { hasText: 'Online' }).waitFor();
    await screenshot(b, 'demo-desktop', 'demo.png');
    assert.deepEqual(await axeViolations(b), [], 'accessibility of the demo');
    await b.setViewportSize(PHONE);
    await screenshot(b, 'demo-phone');
    assert.ok(await b.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the demo scrolls sideways at 390 px');

    // Tab A closes: alice is still logged in but has no connection: OFFLINE for bob and carol.
    await a.close();
    await card(b, 'demo-alice').locator('.badge', { hasText: 'Offline' }).waitFor();
    await card(c, 'demo-alice').locator('.badge', { hasText: 'Offline' }).waitFor();
    await admin.locator('#feed li[data-user="demo-alice"][data-status="2"]').waitFor();
    assert.equal(await card(b, 'demo-alice').locator('.cs').textContent(), '');

    // The README's picture of the console: every status, devices, the feed of the demo.
    await front(admin);
    await admin.getByLabel('userID starts with').fill('');
    await admin.locator('#users-body tr[data-user="e2e-alice"]').waitFor();
    await admin.locator('#count-offline', { hasText: '1' }).waitFor();
    await admin.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await screenshot(admin, 'console-demo-desktop', 'console.png');
  } finally {
    await ctx.close();
  }
});
