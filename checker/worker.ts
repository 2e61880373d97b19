/**
 * A recorder worker process: drives its users' SDK clients (the real SDK over real WebSockets,
 * each through its network path) with seeded random operations, and writes every call, every
 * wire event of every link and every status the app heard to its part of the history.
 *
 * Each user runs one operation at a time (so its own changes have one order, S22); users run
 * concurrently. Started by run.ts with `fork`; see ipc.ts for the messages.
 */
import Presently, { PresentlyError, type PresentlyClient } from '@presently/client';
import type { Platform } from '@presently/protocol';
import { makeUserSig } from '../packages/server/src/auth/usersig.js';
import { HistoryWriter, now, type Rec, type StatusItem, type UserDecl } from './history.js';
import type { FromWorker, ToWorker, WorkerConfig } from './ipc.js';
import { restCall, type RestTarget } from './rest.js';
import { Rng } from './rng.js';
import { tapClass, type TapSocket } from './tap.js';

/** SDK codes that leave the outcome open: the request may have reached the server. */
const UNKNOWN_CODES = new Set([2800, 2801, 2999]);

interface Client {
  c: string;
  u: string;
  slot: string;
  path: string;
  sdk: PresentlyClient;
  tap: TapSocket | null;
  links: number;
  net: string;
  /** The current link's sync reply came (or it is the first link, which needs none). */
  synced: boolean;
  dead: boolean;
  waiters: Array<() => void>;
}

interface Slot {
  slot: string;
  client: Client | null;
  cooldownUntil: number;
}

interface User {
  decl: UserDecl;
  index: number;
  rng: Rng;
  slots: Slot[];
  subs: Set<string>;
  friends: Set<string>;
  statusSeq: number;
  /** When the last deliberate end (crash, silence) of one of its sessions must be visible. */
  pendingUntil: number;
}

let cfg: WorkerConfig;
let history: HistoryWriter;
let stopping = false;
let opSeq = 0;
let clientSeq = 0;
const users: User[] = [];
const clients = new Set<Client>();

function send(msg: FromWorker): void {
  process.send?.(msg);
}

function record(rec: Rec): void {
  history.write(rec);
}

function sig(userID: string): string {
  return makeUserSig({ SDKAppID: cfg.app, secretKey: cfg.key, userID, expireSec: 86_400 });
}

const restTarget = (): RestTarget => ({ http: cfg.rest, app: cfg.app, key: cfg.key });

/** Runs one call and records it with its start, end and outcome. */
async function call<T>(
  u: string,
  c: string | undefined,
  op: string,
  args: Record<string, unknown>,
  fn: () => Promise<T>,
  data?: (r: T) => unknown,
): Promise<{ ok: boolean; value?: T }> {
  const id = `${cfg.name}.${++opSeq}`;
  const t0 = now();
  try {
    const value = await fn();
    const t1 = now();
    const rec: Rec = { type: 'op', t: t1, p: cfg.name, id, u, op, args, t0, t1, outcome: 'ok' };
    if (c) rec.c = c;
    if (data) rec.data = data(value);
    record(rec);
    return { ok: true, value };
  } catch (err) {
    const t1 = now();
    const code = err instanceof PresentlyError ? err.code : -1;
    const rec: Rec = { type: 'op', t: t1, p: cfg.name, id, u, op, args, t0, t1, outcome: UNKNOWN_CODES.has(code) || code === -1 ? 'unknown' : 'fail', code };
    if (c) rec.c = c;
    record(rec);
    return { ok: false };
  }
}

async function restOp(u: string, op: string, command: string, body: Record<string, unknown>, itemOk: (code: number) => boolean): Promise<boolean> {
  const id = `${cfg.name}.${++opSeq}`;
  const t0 = now();
  const r = await restCall(restTarget(), command, body);
  const t1 = now();
  let outcome = r.outcome;
  let code = r.code;
  if (outcome === 'ok') {
    const item = (r.body?.ResultItem as Array<{ ResultCode: number }> | undefined)?.[0];
    if (item && !itemOk(item.ResultCode)) {
      outcome = 'fail';
      code = item.ResultCode;
    }
  }
  const rec: Rec = { type: 'op', t: t1, p: cfg.name, id, u, op, args: body, t0, t1, outcome };
  if (code !== undefined) rec.code = code;
  record(rec);
  return outcome === 'ok';
}

function notify(cl: Client): void {
  const w = cl.waiters;
  cl.waiters = [];
  for (const f of w) f();
}

function makeClient(user: User, slot: Slot): Client {
  const c = `${cfg.name}c${++clientSeq}`;
  const pathNames = Object.keys(cfg.paths);
  const path = user.rng.pick(pathNames);
  let linkSeq = 0;
  const cl: Client = {
    c,
    u: user.decl.u,
    slot: slot.slot,
    path,
    sdk: null as unknown as PresentlyClient,
    tap: null,
    links: 0,
    net: 'disconnected',
    synced: false,
    dead: false,
    waiters: [],
  };
  const owner = {
    c,
    record: (rec: Rec) => {
      record(rec);
      if (rec.type === 'link-reply' && rec.op === 'syncStatus' && cl.tap?.l === rec.l && rec.code === 0) {
        cl.synced = true;
        notify(cl);
      }
    },
    adopt: (sock: TapSocket) => {
      cl.tap = sock;
      cl.links++;
      cl.synced = cl.links === 1;
    },
    nextLinkId: () => `${c}.${++linkSeq}`,
  };
  record({ type: 'client', t: now(), c, u: user.decl.u, slot: slot.slot, path, node: cfg.node });
  cl.sdk = Presently.create({
    SDKAppID: cfg.app,
    url: cfg.paths[path]!,
    platform: slot.slot as Platform,
    WebSocket: tapClass(owner),
    backoffBaseMs: cfg.sdk.backoffBaseMs,
    backoffCapMs: cfg.sdk.backoffCapMs,
    connectTimeoutMs: cfg.sdk.connectTimeoutMs,
    requestTimeoutMs: cfg.sdk.requestTimeoutMs,
    logLevel: 4,
  });
  cl.sdk.on(Presently.EVENT.USER_STATUS_UPDATED, (e) => {
    const items: StatusItem[] = e.data.map((s) => ({ userID: s.userID, statusType: s.statusType, customStatus: s.customStatus }));
    record({ type: 'view', t: now(), c, items });
  });
  cl.sdk.on(Presently.EVENT.NET_STATE_CHANGE, (e) => {
    cl.net = e.data.state;
    record({ type: 'net', t: now(), c, state: e.data.state });
    notify(cl);
  });
  cl.sdk.on(Presently.EVENT.SDK_NOT_READY, (e) => {
    // Logged out (3005), kicked (3002-3006) or refused (3001): this instance is over.
    retire(cl, slot, `not ready ${e.data.code}`);
  });
  clients.add(cl);
  return cl;
}

function retire(cl: Client, slot: Slot, why: string): void {
  if (cl.dead) return;
  cl.dead = true;
  record({ type: 'client-end', t: now(), c: cl.c, why });
  clients.delete(cl);
  if (slot.client === cl) slot.client = null;
  void cl.sdk.destroy().catch(() => undefined);
  notify(cl);
}

const ready = (cl: Client | null): cl is Client => !!cl && !cl.dead && cl.net === 'connected' && !!cl.tap?.isOpen;

/** Targets: subscriptions go to users at an odd distance in the run's order, friends at an even one. */
function targets(user: User, kind: 'sub' | 'friend'): string[] {
  const n = cfg.allUsers.length;
  const out: string[] = [];
  for (let j = 0; j < n; j++) {
    const d = (j - user.index + n) % n;
    if (d === 0) continue;
    if ((d % 2 === 1) === (kind === 'sub')) out.push(cfg.allUsers[j]!);
  }
  return out;
}

type Action = 'login' | 'logout' | 'setStatus' | 'subscribe' | 'unsubscribe' | 'friendAdd' | 'friendDelete' | 'query' | 'crash' | 'silence';

async function act(user: User): Promise<void> {
  const rng = user.rng;
  const t = now();
  const free = user.slots.filter((s) => !s.client && s.cooldownUntil <= t);
  const live = user.slots.filter((s) => ready(s.client));
  const any = live.length > 0;
  const action = rng.weighted<Action>({
    login: free.length > 0 ? (any ? 2 : 10) : 0,
    logout: any ? 0.4 : 0,
    setStatus: any ? 5 : 0,
    subscribe: any ? 3 : 0,
    unsubscribe: any && user.subs.size > 0 ? 1.2 : 0,
    friendAdd: any ? 1.5 : 0.3,
    friendDelete: user.friends.size > 0 ? 0.8 : 0,
    query: any && user.subs.size + user.friends.size > 0 ? 2 : 0,
    crash: any ? 0.3 : 0,
    silence: any ? 0.25 : 0,
  });
  const u = user.decl.u;
  const onSlot = live.length > 0 ? rng.pick(live) : null;
  const cl = onSlot?.client ?? null;
  switch (action) {
    case 'login': {
      const slot = rng.pick(free);
      const client = makeClient(user, slot);
      slot.client = client;
      const r = await call(u, client.c, 'login', { slot: slot.slot, path: client.path }, () => client.sdk.login({ userID: u, userSig: sig(u) }));
      if (!r.ok) retire(client, slot, 'login failed');
      return;
    }
    case 'logout': {
      if (!cl || !onSlot) return;
      await call(u, cl.c, 'logout', {}, () => cl.sdk.logout());
      retire(cl, onSlot, 'logout');
      return;
    }
    case 'setStatus': {
      if (!cl) return;
      const value = rng.chance(0.1) ? '' : `${u}#${++user.statusSeq}`;
      await call(
        u,
        cl.c,
        'setSelfStatus',
        { customStatus: value },
        () => cl.sdk.setSelfStatus({ customStatus: value }),
        (r) => r.data,
      );
      return;
    }
    case 'subscribe': {
      if (!cl) return;
      const target = rng.pick(targets(user, 'sub'));
      const r = await call(
        u,
        cl.c,
        'subscribe',
        { target },
        () => cl.sdk.subscribeUserStatus({ userIDList: [target] }),
        (r) => r.data,
      );
      if (r.ok) {
        user.subs.add(target);
        await query(user, cl, [target]);
      }
      return;
    }
    case 'unsubscribe': {
      if (!cl) return;
      const target = rng.pick([...user.subs]);
      const r = await call(
        u,
        cl.c,
        'unsubscribe',
        { target },
        () => cl.sdk.unsubscribeUserStatus({ userIDList: [target] }),
        (r) => r.data,
      );
      if (r.ok) user.subs.delete(target);
      return;
    }
    case 'friendAdd': {
      const target = rng.pick(targets(user, 'friend'));
      const ok = await restOp(
        u,
        'friendAdd',
        'sns/friend_add',
        { From_Account: u, AddFriendItem: [{ To_Account: target }], AddType: 'Add_Type_Single' },
        (code) => code === 0 || code === 30001,
      );
      if (ok) {
        user.friends.add(target);
        if (cl && ready(cl)) await query(user, cl, [target]);
      }
      return;
    }
    case 'friendDelete': {
      const target = rng.pick([...user.friends]);
      const ok = await restOp(
        u,
        'friendDelete',
        'sns/friend_delete',
        { From_Account: u, To_Account: [target], DeleteType: 'Delete_Type_Single' },
        (code) => code === 0 || code === 31704,
      );
      if (ok) user.friends.delete(target);
      return;
    }
    case 'query': {
      if (!cl) return;
      const watched = [...user.subs, ...user.friends];
      const n = rng.int(1, Math.min(5, watched.length));
      const list = Array.from({ length: n }, () => rng.pick(watched));
      await query(user, cl, [...new Set(list)]);
      return;
    }
    case 'crash': {
      if (!cl || !onSlot || !cl.tap) return;
      record({ type: 'crash', t: now(), c: cl.c, l: cl.tap.l });
      cl.tap.crash();
      retire(cl, onSlot, 'crash');
      onSlot.cooldownUntil = now() + (rng.chance(0.15) ? rng.range(0, cfg.finMs) : cfg.finMs + cfg.slackMs + rng.range(500, 3000));
      user.pendingUntil = Math.max(user.pendingUntil, now() + cfg.finMs + cfg.slackMs);
      return;
    }
    case 'silence': {
      if (!cl || !onSlot || !cl.tap) return;
      const tap = cl.tap;
      record({ type: 'silence', t: now(), c: cl.c, l: tap.l, lastSent: tap.lastSent });
      tap.freeze();
      retire(cl, onSlot, 'silence');
      const bound = cfg.heartbeatTimeoutMs + cfg.heartbeatGraceMs + cfg.slackMs;
      onSlot.cooldownUntil = now() + (rng.chance(0.15) ? rng.range(0, cfg.heartbeatTimeoutMs) : bound + rng.range(500, 3000));
      user.pendingUntil = Math.max(user.pendingUntil, tap.lastSent + bound);
      return;
    }
  }
}

async function query(user: User, cl: Client, list: string[], final = false): Promise<void> {
  const args: Record<string, unknown> = { userIDList: list };
  if (final) args.final = true;
  await call(
    user.decl.u,
    cl.c,
    'getUserStatus',
    args,
    () => cl.sdk.getUserStatus({ userIDList: list }),
    (r) => r.data,
  );
}

async function runUser(user: User): Promise<void> {
  const [lo, hi] = cfg.thinkMs;
  while (!stopping) {
    await act(user);
    if (stopping) break;
    await new Promise((r) => setTimeout(r, user.rng.range(lo, hi)));
  }
}

/** Resolves when the client is connected and re-synced, or is gone. */
function settled(cl: Client): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (cl.dead || (cl.net === 'connected' && cl.synced)) resolve();
      else cl.waiters.push(check);
    };
    check();
  });
}

let running: Promise<void>[] = [];

async function start(config: WorkerConfig): Promise<void> {
  cfg = config;
  history = new HistoryWriter(cfg.out);
  setInterval(() => history.flush(), 500).unref();
  const root = new Rng(`${cfg.seed}:${cfg.name}`);
  for (const decl of cfg.users) {
    users.push({
      decl,
      index: cfg.allUsers.indexOf(decl.u),
      rng: root.fork(decl.u),
      slots: decl.slots.map((slot) => ({ slot, client: null, cooldownUntil: 0 })),
      subs: new Set(),
      friends: new Set(),
      statusSeq: 0,
      pendingUntil: 0,
    });
  }
  running = users.map((u) => runUser(u));
  send({ type: 'started' });
}

async function stop(): Promise<void> {
  stopping = true;
  await Promise.all(running);
  const live = [...clients];
  const deadline = cfg.heartbeatTimeoutMs * 4 + 10_000;
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadline).unref());
  await Promise.race([Promise.all(live.map(settled)), timeout]);
  const unsettled = live.filter((cl) => !cl.dead && !(cl.net === 'connected' && cl.synced)).map((cl) => cl.c);
  const pendingUntil = Math.max(0, ...users.map((u) => u.pendingUntil));
  history.flush();
  send({ type: 'quiet', pendingUntil, unsettled });
}

async function snapshot(): Promise<void> {
  await Promise.all(
    users.map(async (user) => {
      const watched = [...user.subs, ...user.friends];
      for (const s of user.slots) {
        const cl = s.client;
        if (!ready(cl) || watched.length === 0) continue;
        await query(user, cl, watched, true);
      }
    }),
  );
  history.flush();
  send({ type: 'snapshot-done' });
}

process.on('message', (msg: ToWorker) => {
  const fail = (err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  if (msg.type === 'start') start(msg.config).catch(fail);
  else if (msg.type === 'stop') stop().catch(fail);
  else if (msg.type === 'snapshot') snapshot().catch(fail);
  else if (msg.type === 'exit') {
    history.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
