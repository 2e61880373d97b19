/**
 * The Presently web console (served at /console/): sign-in, then three sections reached by the
 * header links (#live, #settings, #webhooks). No framework: the markup is in console.html, and
 * each section is a small class that fills it (live.ts, settings.ts, webhooks.ts).
 *
 * Credentials: the SDKAppID, the admin userID and a UserSig are kept in sessionStorage (this tab
 * only, gone when it closes). A secret key typed at sign-in is turned into a UserSig valid for a
 * day, here in the page, and is not kept.
 */
import { byId, errorText, show } from '../lib/dom.js';
import { makeUserSig } from '../lib/usersig.js';
import { LiveView } from './live.js';
import { AUTH_CODES, RestError, callRest, type Credentials } from './rest.js';
import { SettingsView } from './settings.js';
import { WebhooksView } from './webhooks.js';

const STORE_KEY = 'presently.console';
const SECTIONS = ['live', 'settings', 'webhooks'] as const;
type Section = (typeof SECTIONS)[number];
/** A UserSig made from the secret key lives this long. */
const KEY_SIG_SECONDS = 86_400;

/** The signed-in admin; null while signed out. */
let creds: Credentials | null = null;

function currentCreds(): Credentials {
  if (!creds) throw new RestError(0, 'signed out');
  return creds;
}

// The sections are made once (they wire their own controls) and read `creds` on each call.
const live = new LiveView(currentCreds, onRestError);
const settings = new SettingsView(currentCreds, onRestError);
const webhooks = new WebhooksView(currentCreds, onRestError);

function stored(): Credentials | null {
  try {
    const c = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? 'null') as Credentials | null;
    if (c && typeof c.SDKAppID === 'number' && typeof c.identifier === 'string' && typeof c.userSig === 'string') return c;
  } catch {
    /* unreadable: sign in again */
  }
  return null;
}

// ---- sign in / out -----------------------------------------------------------------------------

function showSignIn(error = ''): void {
  for (const s of SECTIONS) show(byId(s), false);
  show(byId('nav'), false);
  show(byId('who'), false);
  show(byId('signin'), true);
  byId('signin-error').textContent = error;
  document.title = 'Sign in · Presently console';
  const app = byId<HTMLInputElement>('si-app');
  (app.value ? byId<HTMLInputElement>(credKind() === 'key' ? 'si-key' : 'si-sig') : app).focus();
}

function credKind(): 'key' | 'sig' {
  return document.querySelector<HTMLInputElement>('input[name="cred"]:checked')?.value === 'sig' ? 'sig' : 'key';
}

function signOut(reason = ''): void {
  sessionStorage.removeItem(STORE_KEY);
  if (creds) {
    live.stop();
    webhooks.hide();
  }
  creds = null;
  showSignIn(reason);
}

/**
 * What every REST failure goes through: a refused ticket or a lost admin right signs out (true);
 * anything else is the caller's to show (false).
 */
function onRestError(err: unknown): boolean {
  if (err instanceof RestError && AUTH_CODES.has(err.code)) {
    signOut(`Signed out: ${err.message} (${err.code}).`);
    return true;
  }
  return false;
}

/** Checks the credentials and opens the console; returns why not ('' when signed in). */
async function enter(next: Credentials): Promise<string> {
  try {
    await callRest(next, 'presently/get_status_counts');
  } catch (err) {
    return err instanceof RestError && err.code !== 0 ? `${err.message} (${err.code})` : errorText(err);
  }
  sessionStorage.setItem(STORE_KEY, JSON.stringify(next));
  creds = next;
  show(byId('signin'), false);
  show(byId('nav'), true);
  show(byId('who'), true);
  byId('who-text').textContent = `App ${next.SDKAppID} · ${next.identifier}`;
  void settings.load();
  live.start();
  route(false);
  return '';
}

async function onSignIn(e: SubmitEvent): Promise<void> {
  e.preventDefault();
  const err = byId('signin-error');
  const button = byId<HTMLButtonElement>('signin-submit');
  const appText = byId<HTMLInputElement>('si-app').value.trim();
  const identifier = byId<HTMLInputElement>('si-admin').value.trim();
  const fail = (message: string, field: string) => {
    err.textContent = message;
    const f = byId(field);
    f.setAttribute('aria-invalid', 'true');
    f.focus();
  };
  for (const id of ['si-app', 'si-admin', 'si-key', 'si-sig']) byId(id).removeAttribute('aria-invalid');
  if (!/^\d{1,15}$/.test(appText) || Number(appText) <= 0) return fail('SDKAppID: a positive number, e.g. 1400000001.', 'si-app');
  if (!identifier) return fail('Admin userID: required (e.g. administrator).', 'si-admin');
  const SDKAppID = Number(appText);
  let userSig: string;
  if (credKind() === 'key') {
    const key = byId<HTMLInputElement>('si-key').value;
    if (key.length < 8) return fail('Secret key: the app’s key, at least 8 characters.', 'si-key');
    userSig = makeUserSig({ SDKAppID, secretKey: key, userID: identifier, expireSec: KEY_SIG_SECONDS });
  } else {
    userSig = byId<HTMLTextAreaElement>('si-sig').value.trim();
    if (!userSig) return fail('UserSig: paste an admin’s UserSig.', 'si-sig');
  }
  button.disabled = true;
  err.textContent = '';
  try {
    const problem = await enter({ SDKAppID, identifier, userSig });
    if (problem) fail(`Sign-in refused: ${problem}`, credKind() === 'key' ? 'si-key' : 'si-sig');
    else byId<HTMLInputElement>('si-key').value = '';
  } finally {
    button.disabled = false;
  }
}

// ---- sections ----------------------------------------------------------------------------------

function section(): Section {
  const h = location.hash.slice(1);
  return (SECTIONS as readonly string[]).includes(h) ? (h as Section) : 'live';
}

/** Shows the section named by the hash; `focus` moves the keyboard to its heading. */
function route(focus: boolean): void {
  if (!creds) return;
  const s = section();
  for (const name of SECTIONS) show(byId(name), name === s);
  for (const a of Array.from(byId('nav').querySelectorAll('a'))) {
    if (a.getAttribute('href') === `#${s}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (s === 'webhooks') webhooks.showing();
  else webhooks.hide();
  const title = byId(`${s}-h`);
  document.title = `${title.textContent ?? s} · Presently console`;
  if (focus) title.focus();
}

// ---- start -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  byId<HTMLFormElement>('signin-form').addEventListener('submit', (e) => void onSignIn(e));
  for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="cred"]'))) {
    r.addEventListener('change', () => {
      show(byId('si-key-field'), credKind() === 'key');
      show(byId('si-sig-field'), credKind() === 'sig');
    });
  }
  byId('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => route(true));
  const saved = stored();
  if (saved) {
    const problem = await enter(saved);
    if (!problem) return;
    sessionStorage.removeItem(STORE_KEY);
    showSignIn(`Signed out: ${problem}`);
    return;
  }
  // On a development server the demo config names the development app: fill it in.
  try {
    const res = await fetch('/demo/config', { cache: 'no-store' });
    const cfg = (await res.json()) as { devMode?: boolean; SDKAppID?: number };
    const app = byId<HTMLInputElement>('si-app');
    if (cfg.devMode && cfg.SDKAppID && !app.value) app.value = String(cfg.SDKAppID);
  } catch {
    /* no hint: the field stays empty */
  }
  showSignIn();
}

void main();
