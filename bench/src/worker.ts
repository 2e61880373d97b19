/**
 * A load-generator worker process. It holds the sockets of a slice of the users (raw `ws`
 * clients, not the SDK: one socket and one JSON.parse per frame, no per-client objects beyond a
 * small record) from its own source address, and does what the runner asks over IPC: log in,
 * subscribe, heartbeat at the server's interval, churn custom statuses at a rate, query, destroy
 * sockets, and check what its users heard.
 *
 * Every churn status is `b<seq>.<µs>`: a per-sender sequence number and the send time on the
 * shared monotonic clock, so a receiver measures latency and detects missing, duplicated and
 * out-of-order changes per (receiver, friend) pair.
 */
import WebSocket from 'ws';
import { friendGraph, subscriptionsOf, rng, userID, userIndex } from './graph.js';
import { Hist } from './stats.js';
import { now, sleep } from './clock.js';
import type {
  ArgsOf,
  ChurnStopResult,
  Cmd,
  InitArgs,
  LoginCheckResult,
  LoginResult,
  OfflineResult,
  PhaseResult,
  QueryArgs,
  QueryResult,
  Request,
  ResultMap,
  StatusResult,
} from './ipc.js';

interface Frame {
  id?: number;
  op?: string;
  code?: number;
  message?: string;
  data?: unknown;
}
interface StatusItem {
  userID: string;
  statusType: number;
  customStatus: string;
}

interface Peer {
  g: number;
  l: number;
  ws: WebSocket | null;
  ready: boolean;
  /** Closed by us (destroy/shutdown): not an unexpected close. */
  dropped: boolean;
  subscribed: boolean;
  nextId: number;
  waiters: Map<number, (f: Frame) => void>;
}

let cfg: InitArgs;
let K = 20;
let adj: Int32Array = new Int32Array(0);
let peers: Peer[] = [];
let heartbeatMs = 60_000;
let hbTimer: NodeJS.Timeout | null = null;
let hbTick = 0;
/** Heartbeats sent, and heartbeat replies received (the difference is the missed ones). */
let hbSent = 0;
let hbAcked = 0;
let hbLastTick = 0;

// ---- tracking state --------------------------------------------------------------------------
let lastSeq: Int32Array = new Int32Array(0); // per (local receiver, friend slot): last churn seq heard
let onlineSeen: Float64Array = new Float64Array(0); // per (local receiver, friend slot): first ONLINE push time
let offlineSeen: Float64Array = new Float64Array(0); // per (local receiver, friend slot): first OFFLINE push time
const track = { online: false, offline: false };
let seqOf: Int32Array = new Int32Array(0); // per local sender: last seq sent

function newPhase() {
  return { delivered: 0, deliveredInWindow: 0, self: 0, dup: 0, outOfOrder: 0, gaps: 0, other: 0, unexpected: 0, hist: new Hist(), histSame: new Hist(), histCross: new Hist() };
}
/** The node (index into cfg.urls) that user g's socket is on: its worker's local index l = g / workers, modulo the nodes. */
const nodeOf = (g: number): number => Math.floor(g / cfg.workers) % cfg.urls.length;
let phase = newPhase();
let inWindow = false;
let dupOnline = 0;
let closedUnexpected = 0;
const closeCodes: Record<string, number> = {};
let stray = { acks: 0, errors: 0, firstError: '' };

function friendSlot(l: number, sender: number): number {
  const base = peers[l]!.g * K;
  for (let j = 0; j < K; j++) if (adj[base + j] === sender) return j;
  return -1;
}

function onStatus(p: Peer, it: StatusItem, t: number): void {
  const s = userIndex(it.userID);
  if (s === p.g) {
    phase.self++;
    return;
  }
  const cs = it.customStatus;
  if (it.statusType === 1 && cs.charCodeAt(0) === 98 /* b */) {
    const dot = cs.indexOf('.');
    const seq = Number(cs.slice(1, dot));
    const sentUs = Number(cs.slice(dot + 1));
    const j = friendSlot(p.l, s);
    if (j < 0) {
      phase.unexpected++;
      return;
    }
    const k = p.l * K + j;
    const last = lastSeq[k]!;
    if (seq === last) phase.dup++;
    else if (seq < last) phase.outOfOrder++;
    else {
      if (seq > last + 1) phase.gaps += seq - last - 1;
      lastSeq[k] = seq;
      phase.delivered++;
      if (inWindow) phase.deliveredInWindow++;
      const ms = t - sentUs / 1000;
      phase.hist.add(ms);
      if (cfg.urls.length > 1) (nodeOf(s) === nodeOf(p.g) ? phase.histSame : phase.histCross).add(ms);
    }
    return;
  }
  phase.other++;
  if ((it.statusType === 1 && track.online) || (it.statusType === 2 && track.offline)) {
    const j = friendSlot(p.l, s);
    if (j < 0) return;
    const arr = it.statusType === 1 ? onlineSeen : offlineSeen;
    const k = p.l * K + j;
    if (arr[k] === 0) arr[k] = t;
    else if (it.statusType === 1) dupOnline++;
  }
}

function onMessage(p: Peer, data: Buffer): void {
  const t = now();
  let f: Frame;
  try {
    f = JSON.parse(data.toString('utf8')) as Frame;
  } catch {
    stray.errors++;
    return;
  }
  if (f.op === 'userStatusUpdated') {
    for (const it of f.data as StatusItem[]) onStatus(p, it, t);
    return;
  }
  if (f.id !== undefined) {
    const w = p.waiters.get(f.id);
    if (w) {
      p.waiters.delete(f.id);
      w(f);
      return;
    }
  }
  if (f.op === 'heartbeat') {
    hbAcked++;
    return;
  }
  if (f.code === 0) stray.acks++;
  else {
    stray.errors++;
    if (!stray.firstError) stray.firstError = `${f.op}: ${f.code} ${f.message ?? ''}`;
  }
}

function request(p: Peer, body: string, id: number): Promise<Frame> {
  return new Promise((resolve) => {
    p.waiters.set(id, resolve);
    p.ws!.send(body);
  });
}

// ---- commands --------------------------------------------------------------------------------

function init(a: InitArgs): ResultMap['init'] {
  cfg = a;
  K = a.k;
  adj = friendGraph(a.n, a.k, a.seed);
  peers = a.users.map((g, l) => ({ g, l, ws: null, ready: false, dropped: false, subscribed: false, nextId: 1, waiters: new Map() }));
  lastSeq = new Int32Array(peers.length * K);
  onlineSeen = new Float64Array(peers.length * K);
  offlineSeen = new Float64Array(peers.length * K);
  seqOf = new Int32Array(peers.length);
  return { ok: true };
}

interface LoginTimes {
  sentAt: Float64Array;
  loginAt: Float64Array;
  doneAt: Float64Array;
}

interface LoginHists {
  total: Hist;
  handshake: Hist;
  reply: Hist;
}

function connectAndLogin(p: Peer, hists: LoginHists, times: LoginTimes, errors: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, err?: string) => {
      if (settled) return;
      settled = true;
      if (!ok && err && errors.length < 5) errors.push(`${userID(p.g)}: ${err}`);
      resolve(ok);
    };
    const t0 = now();
    times.sentAt[p.l] = t0;
    const ws = new WebSocket(cfg.urls[p.l % cfg.urls.length]!, {
      localAddress: cfg.localAddresses[p.l % cfg.localAddresses.length],
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: 60_000,
    });
    p.ws = ws;
    p.dropped = false;
    ws.on('message', (data: Buffer) => onMessage(p, data));
    ws.on('error', (err) => finish(false, err.message));
    ws.on('close', (code) => {
      if (p.ready && !p.dropped) {
        closedUnexpected++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      }
      p.ready = false;
      for (const w of p.waiters.values()) w({ code: -1, message: `closed ${code}` });
      p.waiters.clear();
      finish(false, `closed ${code}`);
    });
    ws.on('open', () => {
      const id = p.nextId++;
      const body = JSON.stringify({
        id,
        op: 'login',
        SDKAppID: cfg.SDKAppID,
        userID: userID(p.g),
        userSig: cfg.sigs[p.l],
        platform: 'Web',
        instanceId: `bench-${cfg.w}-${p.g}-${Math.floor(t0)}`,
      });
      const tOpen = now();
      times.loginAt[p.l] = tOpen;
      hists.handshake.add(tOpen - t0);
      void request(p, body, id).then((f) => {
        if (f.code !== 0) return finish(false, `login ${f.code} ${f.message ?? ''}`);
        const t1 = now();
        times.doneAt[p.l] = t1;
        hists.total.add(t1 - t0);
        hists.reply.add(t1 - tOpen);
        const d = f.data as { heartbeatIntervalMs?: number };
        if (d.heartbeatIntervalMs) heartbeatMs = d.heartbeatIntervalMs;
        p.ready = true;
        finish(true);
      });
    });
  });
}

/** Runs `fn` over items with at most `concurrency` in flight. */
async function pool<T>(items: T[], concurrency: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  });
  await Promise.all(lanes);
}

async function login(a: ArgsOf<'login'>): Promise<LoginResult> {
  const hists: LoginHists = { total: new Hist(), handshake: new Hist(), reply: new Hist() };
  const times: LoginTimes = { sentAt: new Float64Array(peers.length), loginAt: new Float64Array(peers.length), doneAt: new Float64Array(peers.length) };
  const errors: string[] = [];
  let ok = 0;
  let failed = 0;
  await pool(peers.filter((p) => !p.ready && !p.dropped).slice(0, a.count ?? peers.length), a.concurrency, async (p) => {
    if (await connectAndLogin(p, hists, times, errors)) ok++;
    else failed++;
  });
  startHeartbeats();
  return { ok, failed, errors, hist: hists.total.data(), handshake: hists.handshake.data(), reply: hists.reply.data(), ...times };
}

/** Each ready socket sends `{"op":"heartbeat"}` once per server heartbeat interval, spread evenly. */
function startHeartbeats(): void {
  if (hbTimer) return;
  hbTimer = setInterval(() => {
    const slots = Math.max(1, Math.round(heartbeatMs / 1000));
    const slot = hbTick++ % slots;
    hbLastTick = now();
    for (let l = slot; l < peers.length; l += slots) {
      const p = peers[l]!;
      if (p.ready) {
        p.ws!.send('{"op":"heartbeat"}');
        hbSent++;
      }
    }
  }, 1000);
}

async function subscribe(a: ArgsOf<'subscribe'>): Promise<ResultMap['subscribe']> {
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  await pool(
    peers.filter((p) => p.ready && !p.subscribed),
    a.concurrency,
    async (p) => {
      p.subscribed = true;
      const ids = subscriptionsOf(p.g, cfg.n, a.count, a.seed).map(userID);
      const id = p.nextId++;
      const f = await request(p, JSON.stringify({ id, op: 'subscribeUserStatus', userIDList: ids }), id);
      const failures = (f.data as { failureUserList?: unknown[] } | undefined)?.failureUserList?.length ?? 0;
      if (f.code === 0 && failures === 0) ok++;
      else {
        failed++;
        if (errors.length < 5) errors.push(`${userID(p.g)}: ${f.code} ${f.message ?? ''} failures=${failures}`);
      }
    },
  );
  return { ok, failed, errors };
}

// ---- W1 churn --------------------------------------------------------------------------------
let churn: { timer: NodeJS.Timeout; sent: number; t0: number; rate: number; rand: () => number } | null = null;
let churnSent = 0;

function churnStart(a: ArgsOf<'churnStart'>): ResultMap['churnStart'] {
  const ready = peers.filter((p) => p.ready);
  const rand = rng(a.seed);
  stray = { acks: 0, errors: 0, firstError: '' };
  churnSent = 0;
  inWindow = true;
  const c = { timer: setInterval(() => tick(), 2), sent: 0, t0: now(), rate: a.rate, rand };
  churn = c;
  function tick(): void {
    const due = Math.floor(((now() - c.t0) / 1000) * c.rate) - c.sent;
    // At most 2,000 per 2 ms tick: a generator that falls further behind drops the excess
    // (the step then shows fewer changes sent than offered).
    const n = Math.min(due, 2000);
    for (let i = 0; i < n; i++) {
      const p = ready[Math.floor(rand() * ready.length)];
      if (!p || !p.ready) continue;
      const seq = ++seqOf[p.l]!;
      const id = p.nextId++;
      p.ws!.send(`{"id":${id},"op":"setSelfStatus","customStatus":"b${seq}.${Math.round(now() * 1000)}"}`);
      churnSent++;
    }
    if (due > 0) c.sent += due;
  }
  return { ok: true };
}

function churnStop(): ChurnStopResult {
  if (churn) clearInterval(churn.timer);
  churn = null;
  inWindow = false;
  const pairs: number[] = [];
  for (const p of peers) if (seqOf[p.l]! > 0) pairs.push(p.g, seqOf[p.l]!);
  return { sent: churnSent, acks: stray.acks, errors: stray.errors, seqs: Int32Array.from(pairs) };
}

function collect(a: ArgsOf<'collect'>): PhaseResult {
  let tail = 0;
  for (const p of peers) {
    if (!p.ready) continue;
    const base = p.g * K;
    for (let j = 0; j < K; j++) {
      const f = adj[base + j]!;
      const k = p.l * K + j;
      const expect = a.finalSeq[f]!;
      if (expect > lastSeq[k]!) {
        tail += expect - lastSeq[k]!;
        lastSeq[k] = expect;
      }
    }
  }
  const r: PhaseResult = {
    delivered: phase.delivered,
    deliveredInWindow: phase.deliveredInWindow,
    self: phase.self,
    dup: phase.dup,
    outOfOrder: phase.outOfOrder,
    missing: phase.gaps + tail,
    other: phase.other,
    unexpected: phase.unexpected,
    hist: phase.hist.data(),
    histSame: phase.histSame.data(),
    histCross: phase.histCross.data(),
  };
  phase = newPhase();
  return r;
}

// ---- W5 queries ------------------------------------------------------------------------------
async function query(a: QueryArgs): Promise<QueryResult> {
  const hist = new Hist();
  let count = 0;
  let errors = 0;
  let firstError = '';
  const conns = peers.filter((p) => p.ready).slice(0, a.conns);
  const rand = rng(a.seed);
  const end = a.startAt + a.durationMs;
  await sleep(Math.max(0, a.startAt - now()));
  await Promise.all(
    conns.map(async (p) => {
      // One id: a friend (a query of another user, so the gate and the limits apply); 500: a run of ids.
      const start = Math.floor(rand() * cfg.n);
      const list = a.ids === 1 ? [userID(adj[p.g * K]!)] : Array.from({ length: a.ids }, (_, i) => userID((start + i) % cfg.n));
      const listJson = JSON.stringify(list);
      while (p.ready && now() < end) {
        const id = p.nextId++;
        const t0 = now();
        const f = await request(p, `{"id":${id},"op":"getUserStatus","userIDList":${listJson}}`, id);
        const t1 = now();
        if (t1 > end) break;
        if (f.code !== 0) {
          errors++;
          if (!firstError) firstError = `${f.code} ${f.message ?? ''}`;
          continue;
        }
        count++;
        hist.add(t1 - t0);
      }
    }),
  );
  return { count, errors, firstError, hist: hist.data() };
}

// ---- W4 abrupt disconnects -------------------------------------------------------------------
function destroy(a: ArgsOf<'destroy'>): ResultMap['destroy'] {
  const mine = new Map(peers.map((p) => [p.g, p]));
  const out: number[] = [];
  for (const g of a.users) {
    const p = mine.get(g);
    if (!p || !p.ws || !p.ready) continue; // already closed: not a victim
    p.dropped = true;
    p.ready = false;
    const t = now();
    p.ws.terminate();
    out.push(g, t);
  }
  return { times: Float64Array.from(out) };
}

async function offlineWait(a: ArgsOf<'offlineWait'>): Promise<OfflineResult> {
  const deadline = now() + a.timeoutMs;
  const expected: Array<[number, number]> = []; // [slot index, victim time]
  for (const p of peers) {
    if (!p.ready) continue;
    const base = p.g * K;
    for (let j = 0; j < K; j++) {
      const vt = a.victimTime[adj[base + j]!]!;
      if (vt > 0) expected.push([p.l * K + j, vt]);
    }
  }
  const allSeen = () => expected.every(([k]) => offlineSeen[k]! > 0);
  while (!allSeen() && now() < deadline) await sleep(10);
  const hist = new Hist();
  let seen = 0;
  for (const [k, vt] of expected) {
    const t = offlineSeen[k]!;
    if (t > 0) {
      seen++;
      hist.add(t - vt);
    }
  }
  return { pairs: expected.length, seen, missing: expected.length - seen, hist: hist.data() };
}

// ---- W2 login check --------------------------------------------------------------------------
function loginCheck(a: ArgsOf<'loginCheck'>): LoginCheckResult {
  let required = 0;
  let requiredSeen = 0;
  let seenTotal = 0;
  for (const p of peers) {
    const myDone = a.doneAt[p.g]!;
    if (!p.ready || myDone === 0) continue;
    const base = p.g * K;
    for (let j = 0; j < K; j++) {
      const u = adj[base + j]!;
      const k = p.l * K + j;
      if (onlineSeen[k]! > 0) seenTotal++;
      // This user's login was done before the friend sent its login frame: the server ran this
      // login first, so this session existed when the friend came online and must hear it.
      if (a.loginAt[u]! > 0 && myDone + a.marginMs < a.loginAt[u]!) {
        required++;
        if (onlineSeen[k]! > 0) requiredSeen++;
      }
    }
  }
  return { required, requiredSeen, seenTotal, dupOnline };
}

/** Waits until 500 ms after the last heartbeat tick, so sent - acked counts only heartbeats left unanswered. */
async function status(): Promise<StatusResult> {
  const wait = hbLastTick + 500 - now();
  if (hbTimer && wait > 0) await sleep(wait);
  return { ready: peers.filter((p) => p.ready).length, closedUnexpected, closeCodes, hbSent, hbAcked };
}

async function handle(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case 'init':
      return init(req.args);
    case 'login':
      return login(req.args);
    case 'subscribe':
      return subscribe(req.args);
    case 'track':
      track.online = req.args.online ?? false;
      track.offline = req.args.offline ?? false;
      onlineSeen.fill(0);
      offlineSeen.fill(0);
      dupOnline = 0;
      return { ok: true };
    case 'churnStart':
      return churnStart(req.args);
    case 'churnStop':
      return churnStop();
    case 'progress':
      return { delivered: phase.delivered, acks: stray.acks, sent: churnSent };
    case 'collect':
      return collect(req.args);
    case 'query':
      return query(req.args);
    case 'destroy':
      return destroy(req.args);
    case 'offlineWait':
      return offlineWait(req.args);
    case 'loginCheck':
      return loginCheck(req.args);
    case 'status':
      return status();
    case 'shutdown':
      if (hbTimer) clearInterval(hbTimer);
      for (const p of peers) {
        p.dropped = true;
        p.ws?.terminate();
      }
      setTimeout(() => process.exit(0), 50);
      return { ok: true };
  }
}

process.on('message', (msg: { id: number; cmd: Cmd; args: unknown }) => {
  handle({ cmd: msg.cmd, args: msg.args } as Request).then(
    (result) => process.send!({ re: msg.id, ok: true, result }),
    (err: unknown) => process.send!({ re: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
