/**
 * The Presently demo page (served at /demo/): one demo user per browser tab, connected with
 * `@presently/client` exactly as an app would be. On a development server the page gets a
 * one-hour UserSig for `demo-…` users from /demo/usersig and adds friends through /demo/friends
 * (both exist only in development mode); elsewhere the visitor pastes a UserSig.
 *
 * `?as=demo-bob` preselects a user (and logs in at once on a development server): the
 * "Open in a new tab" links use it.
 */
import Presently, { type PresentlyClient, type UserStatusInfo } from '@presently/client';
import { byId, errorText, fill, h, show } from '../lib/dom.js';
import { badge, clock, statusWord } from '../lib/status.js';

const PRESETS = ['demo-alice', 'demo-bob', 'demo-carol'];
const DEMO_ID = /^demo-[A-Za-z0-9_-]{1,27}$/;
const EVENTS_MAX = 100;

interface DemoConfig {
  devMode: boolean;
  SDKAppID?: number;
  prefix: string;
}

interface Other {
  userID: string;
  status: UserStatusInfo | null;
  /** 'never': the account does not exist yet (70107). */
  missing: boolean;
  subscribed: boolean;
  friend: boolean;
  /** When the shown status was read or heard (ms). */
  at: number;
  el: HTMLLIElement;
}

let config: DemoConfig = { devMode: false, prefix: 'demo-' };
let client: PresentlyClient | null = null;
let me = '';
let mySig = '';
const others = new Map<string, Other>();

const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;

// ---- picking and logging in -----------------------------------------------------------------------

function pickedUser(): string {
  const other = byId<HTMLInputElement>('other-id').value.trim();
  if (other) return other;
  return document.querySelector<HTMLInputElement>('input[name="as"]:checked')?.value ?? '';
}

async function demoUserSig(userID: string): Promise<{ SDKAppID: number; userSig: string }> {
  const res = await fetch(`/demo/usersig?userID=${encodeURIComponent(userID)}`, { cache: 'no-store' });
  const body = (await res.json()) as { SDKAppID?: number; userSig?: string; error?: string };
  if (!res.ok || !body.userSig || !body.SDKAppID) throw new Error(body.error ?? `HTTP ${res.status}`);
  return { SDKAppID: body.SDKAppID, userSig: body.userSig };
}

async function login(userID: string): Promise<void> {
  const err = byId('pick-error');
  err.textContent = '';
  const button = byId<HTMLButtonElement>('login');
  if (config.devMode && !DEMO_ID.test(userID)) {
    err.textContent = 'Pick a demo user: "demo-" then 1 to 27 letters, digits, _ or -.';
    byId('other-id').focus();
    return;
  }
  if (!userID) {
    err.textContent = 'Pick a user.';
    return;
  }
  button.disabled = true;
  try {
    let SDKAppID: number;
    let userSig: string;
    if (config.devMode) ({ SDKAppID, userSig } = await demoUserSig(userID));
    else {
      SDKAppID = Number(byId<HTMLInputElement>('m-app').value.trim());
      userSig = byId<HTMLTextAreaElement>('m-sig').value.trim();
      if (!Number.isSafeInteger(SDKAppID) || SDKAppID <= 0 || !userSig) throw new Error('enter the SDKAppID and a UserSig for that user');
    }
    const c = Presently.create({ SDKAppID, url: wsUrl, platform: 'Web' });
    c.on(Presently.EVENT.USER_STATUS_UPDATED, (e) => onUpdates(e.data));
    c.on(Presently.EVENT.NET_STATE_CHANGE, (e) => showNet(e.data.state));
    c.on(Presently.EVENT.KICKED_OUT, (e) => void leave(`This tab was logged out: kicked (${e.data.type}).`));
    await c.login({ userID, userSig });
    client = c;
    me = userID;
    mySig = userSig;
    enterApp();
  } catch (e) {
    err.textContent = `Could not log in: ${errorText(e)}`;
  } finally {
    button.disabled = false;
  }
}

function enterApp(): void {
  show(byId('pick'), false);
  show(byId('app'), true);
  show(byId('who'), true);
  byId('who-text').textContent = `Logged in as ${me}`;
  byId('me-id').textContent = me;
  document.title = `${me} · Presently demo`;
  const url = new URL(location.href);
  url.searchParams.set('as', me);
  history.replaceState(null, '', url);
  showMe({ userID: me, statusType: Presently.TYPES.USER_STATUS_ONLINE, customStatus: '' });
  showNet('connected');
  others.clear();
  fill(byId('others'));
  for (const id of PRESETS) if (id !== me) addOther(id);
  byId('me-h').focus();
  void refreshOthers();
}

async function leave(message = ''): Promise<void> {
  const c = client;
  client = null;
  if (c) await c.destroy().catch(() => undefined);
  show(byId('app'), false);
  show(byId('who'), false);
  show(byId('pick'), true);
  fill(byId('events'));
  show(byId('events-empty'), true);
  byId('pick-error').textContent = message;
  document.title = 'Presently demo';
  const url = new URL(location.href);
  url.searchParams.delete('as');
  history.replaceState(null, '', url);
  byId('pick-h').focus();
}

// ---- me ------------------------------------------------------------------------------------------

function showMe(s: UserStatusInfo): void {
  fill(byId('me-status'), badge(s.statusType), s.customStatus ? h('span', { class: 'muted' }, ` “${s.customStatus}”`) : null);
}

function showNet(state: string): void {
  const el = byId('net');
  el.textContent = state === 'connected' ? 'Connected' : state === 'connecting' ? 'Connecting…' : 'Disconnected';
  el.className = `pill ${state === 'connected' ? 'live' : 'down'}`;
}

async function setStatus(value: string): Promise<void> {
  const err = byId('me-error');
  err.textContent = '';
  if (!client) return;
  try {
    const r = await client.setSelfStatus({ customStatus: value });
    showMe(r.data);
    log(r.data, 'you set');
  } catch (e) {
    err.textContent = `Not set: ${errorText(e)}`;
  }
}

// ---- others --------------------------------------------------------------------------------------

function addOther(userID: string): Other {
  const existing = others.get(userID);
  if (existing) return existing;
  const el = h('li', { class: 'person', 'data-user': userID });
  const o: Other = { userID, status: null, missing: false, subscribed: false, friend: false, at: 0, el };
  others.set(userID, o);
  byId('others').appendChild(el);
  renderOther(o);
  return o;
}

function renderOther(o: Other): void {
  const sub = h(
    'button',
    { type: 'button', class: 'small', 'data-action': 'subscribe', 'aria-pressed': o.subscribed ? 'true' : 'false' },
    o.subscribed ? 'Subscribed' : 'Subscribe',
    h('span', { class: 'sr-only' }, ` to ${o.userID}`),
  );
  sub.addEventListener('click', () => void toggleSubscribe(o));
  const friend = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'data-action': 'friend',
      disabled: o.friend || !config.devMode,
      title: config.devMode ? undefined : 'Only on a development server; use the REST API sns/friend_add',
    },
    o.friend ? 'Friends' : 'Add friend',
    h('span', { class: 'sr-only' }, o.friend ? ` with ${o.userID}` : ` ${o.userID}`),
  );
  friend.addEventListener('click', () => void addFriend(o));
  fill(
    o.el,
    h('span', { class: 'name' }, o.userID),
    h('span', { class: 'status' }, o.status ? badge(o.status.statusType) : h('span', { class: 'muted' }, o.missing ? 'no account yet' : 'unknown')),
    h('span', { class: 'cs' }, o.status?.customStatus ? `“${o.status.customStatus}”` : ''),
    // Without a subscription or a friendship nothing is pushed: what is shown is a snapshot.
    o.subscribed || o.friend || !o.at ? null : h('span', { class: 'asof' }, `as read at ${clock(o.at)}; subscribe to hear changes`),
    h(
      'span',
      { class: 'actions' },
      sub,
      friend,
      h(
        'a',
        { class: 'button small', href: `/demo/?as=${encodeURIComponent(o.userID)}`, target: '_blank', rel: 'noopener' },
        'Open in a new tab',
        h('span', { class: 'sr-only' }, ` as ${o.userID}`),
      ),
    ),
  );
}

/** Reads the current status of the listed users (getUserStatus, S11). */
async function refreshOthers(ids = [...others.keys()]): Promise<void> {
  const err = byId('others-error');
  if (!client || ids.length === 0) return;
  try {
    const r = await client.getUserStatus({ userIDList: ids });
    for (const s of r.data.successUserList) {
      const o = others.get(s.userID);
      if (!o) continue;
      o.status = s;
      o.missing = false;
      o.at = Date.now();
      renderOther(o);
    }
    for (const f of r.data.failureUserList) {
      const o = others.get(f.userID);
      if (!o) continue;
      o.missing = true;
      o.status = null;
      o.at = Date.now();
      renderOther(o);
    }
    err.textContent = '';
  } catch (e) {
    err.textContent = `Could not read their statuses: ${errorText(e)}`;
  }
}

async function toggleSubscribe(o: Other): Promise<void> {
  const err = byId('others-error');
  if (!client) return;
  err.textContent = '';
  try {
    if (o.subscribed) {
      await client.unsubscribeUserStatus({ userIDList: [o.userID] });
      o.subscribed = false;
    } else {
      const r = await client.subscribeUserStatus({ userIDList: [o.userID] });
      const failed = r.data.failureUserList.find((f) => f.userID === o.userID);
      if (failed) {
        err.textContent = failed.code === 70107 ? `${o.userID} has never logged in: open it in a tab first.` : `Not subscribed: ${failed.message} (${failed.code})`;
        return;
      }
      o.subscribed = true;
    }
    renderOther(o);
    o.el.querySelector<HTMLButtonElement>('[data-action="subscribe"]')?.focus();
    await refreshOthers([o.userID]);
  } catch (e) {
    err.textContent = `Not done: ${errorText(e)}`;
  }
}

async function addFriend(o: Other): Promise<void> {
  const err = byId('others-error');
  err.textContent = '';
  try {
    const res = await fetch('/demo/friends', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userID: me, userSig: mySig, friendID: o.userID }),
    });
    const body = (await res.json()) as { ok?: boolean; error?: string };
    if (!res.ok || !body.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    o.friend = true;
    renderOther(o);
    o.el.querySelector<HTMLElement>('[data-action="subscribe"]')?.focus();
    await refreshOthers([o.userID]);
  } catch (e) {
    err.textContent = `Not added: ${errorText(e)}`;
  }
}

// ---- what this tab hears ---------------------------------------------------------------------------

function onUpdates(list: UserStatusInfo[]): void {
  for (const s of list) {
    if (s.userID === me) showMe(s);
    else {
      const o = addOther(s.userID);
      o.status = s;
      o.missing = false;
      o.at = Date.now();
      renderOther(o);
    }
    log(s, 'heard');
  }
}

function log(s: UserStatusInfo, how: 'heard' | 'you set'): void {
  const list = byId('events');
  const now = Date.now();
  list.insertBefore(
    h(
      'li',
      { 'data-user': s.userID, 'data-status': s.statusType },
      h('time', { datetime: new Date(now).toISOString() }, clock(now)),
      h('span', { class: 'who-id' }, s.userID === me ? `${s.userID} (you)` : s.userID),
      badge(s.statusType),
      s.customStatus ? h('span', { class: 'cs' }, `“${s.customStatus}”`) : null,
      how === 'you set' ? h('span', { class: 'muted' }, '(set here)') : null,
      h('span', { class: 'sr-only' }, `: ${statusWord(s.statusType)}`),
    ),
    list.firstChild,
  );
  while (list.children.length > EVENTS_MAX) list.lastElementChild?.remove();
  show(byId('events-empty'), false);
}

// ---- start ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  try {
    const res = await fetch('/demo/config', { cache: 'no-store' });
    config = (await res.json()) as DemoConfig;
  } catch {
    config = { devMode: false, prefix: 'demo-' };
  }
  byId('mode-note').textContent = config.devMode
    ? `Development server (app ${config.SDKAppID}): this page gets a one-hour UserSig for demo users from the server.`
    : 'This server runs its own config file, so it makes no UserSig for the demo: enter the SDKAppID and a UserSig your backend made for the user. Friends are added with the REST API (sns/friend_add).';
  show(byId('manual'), !config.devMode);
  const as = new URLSearchParams(location.search).get('as') ?? '';
  const fieldset = byId('pick-users');
  PRESETS.forEach((id, i) => {
    const input = h('input', { type: 'radio', name: 'as', value: id, checked: as ? as === id : i === 0 });
    fieldset.appendChild(h('label', {}, input, ` ${id}`));
  });
  if (as && !PRESETS.includes(as)) byId<HTMLInputElement>('other-id').value = as;

  byId<HTMLFormElement>('pick-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void login(pickedUser());
  });
  byId('other-id').addEventListener('input', () => {
    for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="as"]'))) r.checked = false;
  });
  byId<HTMLFormElement>('cs-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void setStatus(byId<HTMLInputElement>('cs').value);
  });
  byId('cs-clear').addEventListener('click', () => {
    byId<HTMLInputElement>('cs').value = '';
    void setStatus('');
  });
  byId('logout').addEventListener('click', () => void leave());
  byId<HTMLFormElement>('add-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('add-id');
    const id = input.value.trim();
    if (!id || id === me) return;
    const o = addOther(id);
    input.value = '';
    void refreshOthers([o.userID]);
  });
  byId('refresh').addEventListener('click', () => void refreshOthers());
  if (as && config.devMode) await login(as);
}

void main();
