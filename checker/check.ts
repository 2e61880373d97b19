/**
 * The checker: judges a history (history.ts) against the spec, from the history alone.
 *
 * 1. The truth model. From what the clients did and saw on the wire, each link (one WebSocket of
 *    one SDK instance) gets the times its session was certainly live and possibly live on the
 *    server: possibly from the login request, certainly from its reply; certainly until the end
 *    began (logout sent, socket destroyed, the client frozen, the node killed), possibly until the
 *    bound by which the server must have noticed (FIN 1 s; a silent session the heartbeat timeout
 *    plus max(1 s, 10 %), S5; a half-open one the same from the last byte the proxy passed on).
 *    Faults on a client's path or node make its links uncertain from the fault's start until
 *    `recoveryMs` after its end. Each device (user, platform) keeps a login state (S3, S4): set by
 *    a login, removed by a logout, uncertain while one is unanswered. A user's possible statuses
 *    at a time: ONLINE if a link may be live; OFFLINE if none is certainly live and a device may
 *    be logged in; UNLOGINED if none is certainly live and every device may be logged out.
 * 2. Server truth: every `query_online_status` sample must show, for each user, a status the
 *    model allows at some moment between its request and its reply (ghost, false offline).
 * 3. Watchers: while a client is connected and synced, certainly holds a subscription to U (or has
 *    U as a friend, with friend auto-notify on), has heard of U since, and is outside any fault of
 *    its own, the status its app shows for U (the last USER_STATUS_UPDATED or getUserStatus) must
 *    be one the model allowed within the last `deliveryMs`.
 * 4. Order (S22): on each link, one user's custom statuses arrive in the order the user set them,
 *    none twice, none made up, and none skipped while the link and the subscription held.
 * 5. Durability: acknowledged subscriptions and friendships are in the store at the end (and
 *    nothing is there that was certainly removed or never asked for); login state is judged by 2.
 * 6. Agreement: at the end, each watcher's last-seen status of each watched user equals its own
 *    `getUserStatus` and `query_online_status`, within `agreeMs` of the last fault.
 * 7. Recovery: a server that closes a live, heartbeating session with no fault to explain it is a
 *    false offline; a client dropped by a fault must be back within `recoveryMs` of its end.
 */
import { ONLINE, OFFLINE, UNLOGINED, type Bounds, type Rec, type StatusItem } from './history.js';
import { contains, dilate, intersect, merge, overlaps, subtract, total, type Iv } from './intervals.js';

export type ViolationKind =
  | 'ghost'
  | 'false-offline'
  | 'wrong-status'
  | 'unexplained-close'
  | 'slow-recovery'
  | 'no-recovery'
  | 'out-of-order'
  | 'duplicate'
  | 'lost-push'
  | 'phantom-status'
  | 'lost-write'
  | 'phantom-write'
  | 'disagreement'
  | 'slow-agreement';

export interface Violation {
  kind: ViolationKind;
  message: string;
  t: number;
  /** The records that show it, formatted, times relative to the start of the run. */
  excerpt: string[];
}

export interface Verdict {
  ok: boolean;
  seed: string;
  violations: Violation[];
  stats: Record<string, number>;
  /** Measured figures, ms. */
  figures: Record<string, number>;
  bounds: Bounds;
}

const INF = Number.POSITIVE_INFINITY;
const STATUS_OPS = new Set(['login', 'logout', 'setSelfStatus']);
const BIT: Record<number, number> = { [ONLINE]: 1, [OFFLINE]: 2, [UNLOGINED]: 4 };
const NAME: Record<number, string> = { 0: 'UNKNOWN', 1: 'ONLINE', 2: 'OFFLINE', 3: 'UNLOGINED' };

interface LinkInfo {
  l: string;
  c: string;
  openT: number;
  port: number;
  loginSend?: number;
  loginReply?: { t: number; code: number };
  logoutSend?: number;
  logoutReply?: { t: number; code: number };
  syncOk?: number;
  close?: { t: number; code: number; by: string; lastSent: number; reason: string };
  kickT?: number;
  pushes: Array<{ t: number; items: StatusItem[] }>;
  /** Filled by the model. */
  possible: Iv[];
  certain: Iv[];
}

interface ClientInfo {
  c: string;
  u: string;
  slot: string;
  path: string;
  node: string;
  t: number;
  links: LinkInfo[];
  end?: { t: number; why: string };
  crashT?: number;
  silence?: { t: number; l: string | null; lastSent: number };
}

interface FaultInfo {
  id: string;
  kind: string;
  t: number;
  end: number;
  node?: string;
  path?: string;
}

type OpRec = Extract<Rec, { type: 'op' }>;
type Tri = 'yes' | 'no' | 'maybe';

/** A timeline of a three-valued fact (login state of a device, a relation) as segments from a start. */
class Tristate {
  readonly segs: Array<{ s: number; e: number; v: Tri }> = [];
  private state: Tri;
  private at: number;

  constructor(start: number, initial: Tri = 'no') {
    this.state = initial;
    this.at = start;
  }

  /** An operation asked at x, answered at y with `final` (y null: no answer, open until the next). */
  apply(x: number, y: number | null, final: Tri | null): void {
    if (x < this.at) x = this.at;
    this.push(this.at, x, this.state);
    if (y === null || final === null) {
      this.state = 'maybe';
      this.at = x;
      return;
    }
    this.push(x, y, this.state === final ? final : 'maybe');
    this.state = final;
    this.at = Math.max(x, y);
  }

  close(end: number): this {
    this.push(this.at, end, this.state);
    this.at = end;
    return this;
  }

  at_(t: number): Tri {
    for (const s of this.segs) if (s.s <= t && t < s.e) return s.v;
    return this.state;
  }

  ivs(v: Tri): Iv[] {
    return merge(this.segs.filter((s) => s.v === v).map((s) => [s.s, s.e] as const));
  }

  private push(s: number, e: number, v: Tri): void {
    if (e > s) this.segs.push({ s, e, v });
  }
}

/** What the model allows for one user: elementary segments with a mask of possible statuses. */
class Truth {
  constructor(
    readonly starts: number[],
    readonly ends: number[],
    readonly masks: number[],
  ) {}

  possible(status: number): Iv[] {
    const bit = BIT[status] ?? 0;
    const out: Iv[] = [];
    for (let i = 0; i < this.masks.length; i++) if (this.masks[i]! & bit) out.push([this.starts[i]!, this.ends[i]!]);
    return merge(out);
  }

  /** Statuses possible at some moment of [s, e). */
  maskOver(s: number, e: number): number {
    let m = 0;
    for (let i = 0; i < this.masks.length; i++) if (this.starts[i]! < e && this.ends[i]! > s) m |= this.masks[i]!;
    return m;
  }
}

export function check(recs: Rec[]): Verdict {
  const meta = recs.find((r): r is Extract<Rec, { type: 'meta' }> => r.type === 'meta');
  if (!meta) throw new Error('history has no meta record');
  const B = meta.bounds;
  const T0 = meta.t;
  const horizon = recs.find((r) => r.type === 'phase' && r.name === 'horizon')?.t ?? recs[recs.length - 1]!.t;
  const quietT = recs.find((r) => r.type === 'phase' && r.name === 'quiet')?.t ?? horizon;
  const violations: Violation[] = [];
  const rel = (t: number) => `+${((t - T0) / 1000).toFixed(3)}s`;

  // ---- index the history ------------------------------------------------------------------------
  const clients = new Map<string, ClientInfo>();
  const links = new Map<string, LinkInfo>();
  const faults: FaultInfo[] = [];
  const severed: Array<Extract<Rec, { type: 'severed' }>> = [];
  const ops: OpRec[] = [];
  const views = new Map<string, Array<{ t: number; item: StatusItem; final?: boolean }>>(); // key c|U
  const samples: Array<Extract<Rec, { type: 'sample' }>> = [];
  const durable: Array<Extract<Rec, { type: 'durable' }>> = [];
  const nets = new Map<string, Array<{ t: number; state: string }>>();
  const clientOfLink = (l: string) => l.slice(0, l.lastIndexOf('.'));
  const addView = (c: string, t: number, item: StatusItem, final?: boolean) => {
    const k = `${c}|${item.userID}`;
    const list = views.get(k) ?? [];
    list.push(final ? { t, item, final } : { t, item });
    views.set(k, list);
  };
  const stats: Record<string, number> = {};
  const bump = (k: string, n = 1) => (stats[k] = (stats[k] ?? 0) + n);

  for (const r of recs) {
    switch (r.type) {
      case 'client':
        clients.set(r.c, { c: r.c, u: r.u, slot: r.slot, path: r.path, node: r.node, t: r.t, links: [] });
        bump('clients');
        break;
      case 'client-end': {
        const c = clients.get(r.c);
        if (c && !c.end) c.end = { t: r.t, why: r.why };
        break;
      }
      case 'link-open': {
        const info: LinkInfo = { l: r.l, c: r.c, openT: r.t, port: r.port, pushes: [], possible: [], certain: [] };
        links.set(r.l, info);
        clients.get(r.c)?.links.push(info);
        bump('links');
        break;
      }
      case 'link-send': {
        const L = links.get(r.l);
        if (!L) break;
        if (r.op === 'login' && L.loginSend === undefined) L.loginSend = r.t;
        if (r.op === 'logout' && L.logoutSend === undefined) L.logoutSend = r.t;
        break;
      }
      case 'link-reply': {
        const L = links.get(r.l);
        if (!L) break;
        if (r.op === 'login' && !L.loginReply) L.loginReply = { t: r.t, code: r.code };
        if (r.op === 'logout' && !L.logoutReply) L.logoutReply = { t: r.t, code: r.code };
        if (r.op === 'syncStatus' && r.code === 0 && L.syncOk === undefined) L.syncOk = r.t;
        break;
      }
      case 'push': {
        links.get(r.l)?.pushes.push({ t: r.t, items: r.items });
        bump('pushes');
        break;
      }
      case 'kick': {
        const L = links.get(r.l);
        if (L && L.kickT === undefined) L.kickT = r.t;
        break;
      }
      case 'link-close': {
        const L = links.get(r.l);
        if (L && !L.close) L.close = { t: r.t, code: r.code, by: r.by, lastSent: r.lastSent, reason: r.reason };
        break;
      }
      case 'crash': {
        const c = clients.get(r.c);
        if (c) c.crashT = r.t;
        bump('crashes');
        break;
      }
      case 'silence': {
        const c = clients.get(r.c);
        if (c) c.silence = { t: r.t, l: r.l, lastSent: r.lastSent };
        bump('silences');
        break;
      }
      case 'view':
        for (const item of r.items) addView(r.c, r.t, item);
        bump('views');
        break;
      case 'net': {
        const list = nets.get(r.c) ?? [];
        list.push({ t: r.t, state: r.state });
        nets.set(r.c, list);
        break;
      }
      case 'op':
        ops.push(r);
        bump(`op ${r.op} ${r.outcome}`);
        if (r.op === 'getUserStatus' && r.outcome === 'ok' && r.c) {
          const list = (r.data as { successUserList?: StatusItem[] } | undefined)?.successUserList ?? [];
          for (const item of list) addView(r.c, r.t1, item, r.args.final === true);
        }
        break;
      case 'sample':
        samples.push(r);
        bump('samples');
        break;
      case 'fault':
        faults.push({ id: r.id, kind: r.kind, t: r.t, end: INF, ...(r.node ? { node: r.node } : {}), ...(r.path ? { path: r.path } : {}) });
        bump(`fault ${r.kind}`);
        break;
      case 'fault-end': {
        const f = faults.find((x) => x.id === r.id);
        if (f) f.end = r.t;
        break;
      }
      case 'severed':
        severed.push(r);
        break;
      case 'durable':
        durable.push(r);
        break;
      default:
        break;
    }
  }
  for (const f of faults) if (f.end === INF) f.end = horizon;
  const lastFaultEnd = Math.max(T0, ...faults.map((f) => f.end));

  const affects = (f: FaultInfo, c: ClientInfo) => (f.path !== undefined && f.path === c.path) || (f.node !== undefined && f.node === c.node);
  const faultWindows = (c: ClientInfo): Iv[] => merge(faults.filter((f) => affects(f, c)).map((f) => [f.t, f.end + B.recoveryMs] as const));

  // ---- excerpts -----------------------------------------------------------------------------------
  const fmtItem = (s: StatusItem) => `${s.userID}=${NAME[s.statusType] ?? s.statusType}${s.customStatus ? ` "${s.customStatus}"` : ''}`;
  function fmt(r: Rec, users: Set<string>): string | null {
    const t = rel(r.t);
    switch (r.type) {
      case 'op':
        return `${rel(r.t0)}..${rel(r.t1)} ${r.c ?? r.p} ${r.u} ${r.op}(${JSON.stringify(r.args)}) -> ${r.outcome}${r.code !== undefined ? ` ${r.code}` : ''}${
          r.op === 'getUserStatus' && r.outcome === 'ok'
            ? ` [${((r.data as { successUserList?: StatusItem[] })?.successUserList ?? [])
                .filter((s) => users.has(s.userID))
                .map(fmtItem)
                .join(', ')}]`
            : ''
        }`;
      case 'client':
        return `${t} ${r.c} new SDK instance for ${r.u} on ${r.slot} via ${r.path}`;
      case 'client-end':
        return `${t} ${r.c} ended (${r.why})`;
      case 'link-open':
        return `${t} ${r.l} open (port ${r.port})`;
      case 'link-send':
        return `${t} ${r.l} sends ${r.op}`;
      case 'link-reply':
        return `${t} ${r.l} reply to ${r.op}: ${r.code}`;
      case 'link-close':
        return `${t} ${r.l} closed ${r.code}${r.reason ? ` "${r.reason}"` : ''} by ${r.by} (last sent ${rel(r.lastSent)})`;
      case 'push': {
        const items = r.items.filter((s) => users.has(s.userID));
        return items.length ? `${t} ${r.l} push ${items.map(fmtItem).join(', ')}` : null;
      }
      case 'kick':
        return `${t} ${r.l} kickedOut ${r.kind}`;
      case 'crash':
        return `${t} ${r.c} CRASH (socket destroyed)`;
      case 'silence':
        return `${t} ${r.c} SILENT from now (last frame sent ${rel(r.lastSent)})`;
      case 'view': {
        const items = r.items.filter((s) => users.has(s.userID));
        return items.length ? `${t} ${r.c} app hears ${items.map(fmtItem).join(', ')}` : null;
      }
      case 'net':
        return `${t} ${r.c} net ${r.state}`;
      case 'sample': {
        const parts = [...users].filter((u) => r.status[u] !== undefined).map((u) => `${u}=${NAME[r.status[u]!]}`);
        return parts.length ? `${rel(r.t0)}..${rel(r.t1)} query_online_status ${parts.join(', ')}${r.final ? ' (final)' : ''}` : null;
      }
      case 'fault':
        return `${t} FAULT ${r.id} ${r.kind}${r.path ? ` on ${r.path}` : ''}${r.node ? ` of ${r.node}` : ''} ${JSON.stringify(r.params)}`;
      case 'fault-end':
        return `${t} FAULT ${r.id} over`;
      case 'node':
        return `${t} node ${r.node} ${r.event}${r.how ? ` (${r.how})` : ''}`;
      case 'severed':
        return `${t} half-open: client side of port ${r.port} on ${r.path} dropped (last byte to server ${rel(r.lastUp)})`;
      case 'phase':
        return `${t} phase ${r.name}`;
      case 'durable':
        return users.has(r.u) ? `${t} store: ${r.u} subscribes [${r.subs.join(', ')}], friends [${r.friends.join(', ')}]` : null;
      default:
        return null;
    }
  }
  /**
   * The records that concern `users` (their ops, their clients' links and views of them) and
   * `clientIds`, in [from, to]; samples only where a user's status changes; at most `max` lines.
   */
  function excerpt(opts: { users: string[]; clients?: string[]; from: number; to: number; max?: number }): string[] {
    const users = new Set(opts.users);
    const cs = new Set(opts.clients ?? []);
    for (const c of clients.values()) if (users.has(c.u)) cs.add(c.c);
    const lastSample = new Map<string, number>();
    const out: string[] = [];
    for (const r of recs) {
      if (r.t < opts.from || r.t > opts.to) {
        if (r.type === 'sample') for (const u of users) if (r.status[u] !== undefined) lastSample.set(u, r.status[u]);
        continue;
      }
      let keep: boolean;
      switch (r.type) {
        case 'op': {
          // The focus users' own status-changing calls, and calls by the focus users or clients about another focus user.
          const about = JSON.stringify([r.args, r.data ?? null])
            .split('"')
            .some((w) => users.has(w) && w !== r.u);
          keep = (users.has(r.u) && STATUS_OPS.has(r.op)) || (about && (users.has(r.u) || (r.c !== undefined && cs.has(r.c))));
          break;
        }
        case 'client':
        case 'client-end':
        case 'crash':
        case 'silence':
          keep = cs.has(r.c);
          break;
        case 'view':
          keep = cs.has(r.c) && r.items.some((s) => users.has(s.userID));
          break;
        case 'net':
          keep = (opts.clients ?? []).includes(r.c);
          break;
        case 'link-open':
          keep = cs.has(r.c);
          break;
        case 'link-send':
        case 'link-reply':
        case 'link-close':
        case 'kick':
          keep = cs.has(clientOfLink(r.l));
          break;
        case 'push':
          keep = cs.has(clientOfLink(r.l)) && r.items.some((s) => users.has(s.userID));
          break;
        case 'sample': {
          const changed = [...users].some((u) => r.status[u] !== undefined && r.status[u] !== lastSample.get(u));
          for (const u of users) if (r.status[u] !== undefined) lastSample.set(u, r.status[u]);
          keep = changed || r.final === true;
          break;
        }
        case 'fault':
        case 'fault-end':
        case 'node':
        case 'phase':
        case 'durable':
          keep = true;
          break;
        case 'severed': {
          const port = r.port;
          keep = [...links.values()].some((L) => L.port === port && cs.has(L.c));
          break;
        }
        default:
          keep = false;
      }
      if (!keep) continue;
      const line = fmt(r, users);
      if (line) out.push(line);
    }
    const max = opts.max ?? 40;
    return out.length > max ? [`... ${out.length - max} earlier lines`, ...out.slice(-max)] : out;
  }
  const violate = (kind: ViolationKind, message: string, t: number, ex: string[]) => violations.push({ kind, message, t, excerpt: ex });
  const lookback = B.recoveryMs + B.heartbeatTimeoutMs + B.heartbeatGraceMs + B.slackMs;

  // ---- 1. the truth model: links --------------------------------------------------------------------
  const bySlot = new Map<string, LinkInfo[]>(); // `${u}|${slot}` -> links with a login, by login time
  for (const c of clients.values()) {
    for (const L of c.links) {
      if (L.loginSend === undefined) continue;
      const k = `${c.u}|${c.slot}`;
      const list = bySlot.get(k) ?? [];
      list.push(L);
      bySlot.set(k, list);
    }
  }
  for (const list of bySlot.values()) list.sort((a, b) => a.loginSend! - b.loginSend!);

  for (const c of clients.values()) {
    const windows = faultWindows(c);
    const slotLinks = bySlot.get(`${c.u}|${c.slot}`) ?? [];
    for (const L of c.links) {
      if (L.loginSend === undefined) continue;
      const a = L.loginSend;
      if (L.loginReply && L.loginReply.code !== 0) continue; // refused: no session
      const close = L.close;
      let lo = INF;
      let hi = INF;
      if (!L.loginReply) {
        // Unanswered login: the session may have existed until the close was noticed.
        hi = close ? close.t + B.finMs + B.slackMs : INF;
        lo = a;
      } else if (L.logoutSend !== undefined) {
        lo = L.logoutSend;
        hi = L.logoutReply?.code === 0 ? L.logoutReply.t : close ? close.t + B.finMs + B.slackMs : INF;
      } else if (c.silence && c.silence.l === L.l) {
        const dead = c.silence.lastSent + B.heartbeatTimeoutMs;
        hi = dead + B.heartbeatGraceMs + B.slackMs;
        lo = dead;
        if (close && close.t < hi) {
          hi = close.t;
          lo = Math.min(lo, close.t);
        }
      } else if (close) {
        const sev = severed.find((s) => s.port === L.port && s.path === c.path && s.t >= L.openT && s.t <= close.t + 100);
        const nodeFault = faults.find((f) => f.node !== undefined && affects(f, c) && f.t <= close.t && close.t <= f.end);
        const pathFault = faults.find((f) => f.path !== undefined && affects(f, c) && f.t <= close.t && close.t <= f.end + B.recoveryMs);
        if (sev) {
          lo = sev.lastUp + B.heartbeatTimeoutMs;
          hi = lo + B.heartbeatGraceMs + B.slackMs;
        } else if (close.by === 'crash') {
          lo = close.t;
          hi = (c.crashT ?? close.t) + B.finMs + B.slackMs;
        } else if (nodeFault) {
          lo = nodeFault.t;
          hi = close.t;
        } else if (pathFault) {
          lo = pathFault.t;
          hi = Math.max(close.t, pathFault.end) + B.finMs + B.slackMs;
        } else if (close.by === 'client') {
          lo = close.t;
          hi = close.t + B.finMs + B.slackMs;
        } else if (L.kickT !== undefined) {
          lo = L.kickT - B.deliveryMs;
          hi = L.kickT;
        } else {
          lo = hi = close.t;
          const next = slotLinks.find((x) => x !== L && x.loginSend! > a && x.loginSend! <= close.t);
          if (!next) {
            violate(
              'unexplained-close',
              `${c.u}'s live session on ${L.l} (${c.slot}) was closed by the server with ${close.code} "${close.reason}" and no fault, logout, kick or silence explains it: a false offline`,
              close.t,
              excerpt({ users: [c.u], from: close.t - lookback, to: close.t + B.deliveryMs }),
            );
          }
        }
      }
      // Another login on the same device replaces this session (S26) no later than its reply.
      const next = slotLinks.find((x) => x !== L && x.loginSend! > a);
      if (next) {
        lo = Math.min(lo, next.loginSend!);
        if (next.loginReply?.code === 0) hi = Math.min(hi, Math.max(next.loginReply.t, lo));
      }
      lo = Math.min(lo, hi);
      const reach = windows.filter(([s, e]) => s < hi && e > a).map(([s, e]) => [Math.max(s, a), e] as const);
      L.possible = merge([[a, hi], ...reach]);
      L.certain = L.loginReply ? subtract(merge([[L.loginReply.t, lo]]), windows) : [];
    }
  }

  // ---- 1b. login state per device, relations per pair -------------------------------------------------
  const loginState = new Map<string, Tristate>(); // u|slot
  for (const [k, list] of bySlot) {
    const tl = new Tristate(T0, 'no');
    const events: Array<{ x: number; y: number | null; v: Tri | null }> = [];
    for (const L of list) {
      if (L.loginReply && L.loginReply.code !== 0) continue;
      events.push({ x: L.loginSend!, y: L.loginReply ? L.loginReply.t : null, v: L.loginReply ? 'yes' : null });
      if (L.logoutSend !== undefined) {
        const ok = L.logoutReply?.code === 0;
        events.push({ x: L.logoutSend, y: ok ? L.logoutReply!.t : null, v: ok ? 'no' : null });
      }
    }
    events.sort((p, q) => p.x - q.x);
    for (const e of events) tl.apply(e.x, e.y, e.v);
    loginState.set(k, tl.close(horizon + 1));
  }
  const relations = new Map<string, { sub: Tristate; friend: Tristate }>(); // W|U
  const relOf = (w: string, u: string) => {
    const k = `${w}|${u}`;
    let r = relations.get(k);
    if (!r) relations.set(k, (r = { sub: new Tristate(T0), friend: new Tristate(T0) }));
    return r;
  };
  for (const op of ops) {
    let kind: 'sub' | 'friend' | null = null;
    let target: string | undefined;
    let final: Tri = 'yes';
    if (op.op === 'subscribe' || op.op === 'unsubscribe') {
      kind = 'sub';
      target = op.args.target as string;
      final = op.op === 'subscribe' ? 'yes' : 'no';
    } else if (op.op === 'friendAdd') {
      kind = 'friend';
      target = (op.args.AddFriendItem as Array<{ To_Account: string }>)[0]?.To_Account;
    } else if (op.op === 'friendDelete') {
      kind = 'friend';
      target = (op.args.To_Account as string[])[0];
      final = 'no';
    }
    if (!kind || !target || op.outcome === 'fail') continue;
    relOf(op.u, target)[kind].apply(op.t0, op.outcome === 'ok' ? op.t1 : null, op.outcome === 'ok' ? final : null);
  }
  for (const r of relations.values()) {
    r.sub.close(horizon + 1);
    r.friend.close(horizon + 1);
  }
  const relYes = (w: string, u: string): Iv[] => {
    if (w === u) return [[T0, horizon + 1]];
    const r = relations.get(`${w}|${u}`);
    return r ? merge([...r.sub.ivs('yes'), ...r.friend.ivs('yes')]) : [];
  };

  // ---- 1c. truth per user ----------------------------------------------------------------------------
  const truth = new Map<string, Truth>();
  for (const decl of meta.users) {
    const u = decl.u;
    const ls = [...clients.values()].filter((c) => c.u === u).flatMap((c) => c.links);
    const slots = [...loginState.entries()].filter(([k]) => k.startsWith(`${u}|`)).map(([, v]) => v);
    const points = new Set<number>([T0, horizon + 1]);
    for (const L of ls) for (const [s, e] of [...L.possible, ...L.certain]) points.add(s).add(e);
    for (const sl of slots) for (const s of sl.segs) points.add(s.s).add(s.e);
    const pts = [...points].filter((p) => p >= T0 && p <= horizon + 1 && Number.isFinite(p)).sort((a, b) => a - b);
    const starts: number[] = [];
    const ends: number[] = [];
    const masks: number[] = [];
    for (let i = 0; i + 1 < pts.length; i++) {
      const s = pts[i]!;
      const e = pts[i + 1]!;
      const mid = (s + e) / 2;
      const certainOn = ls.some((L) => contains(L.certain, mid));
      const possibleOn = ls.some((L) => contains(L.possible, mid));
      const states = slots.map((sl) => sl.at_(mid));
      let m = possibleOn ? 1 : 0;
      if (!certainOn) {
        if (states.some((v) => v !== 'no')) m |= 2;
        if (states.every((v) => v !== 'yes')) m |= 4;
      }
      starts.push(s);
      ends.push(e);
      masks.push(m);
    }
    truth.set(u, new Truth(starts, ends, masks));
  }
  const kindFor = (status: number, tr: Truth, s: number, e: number): ViolationKind =>
    status === ONLINE ? 'ghost' : tr.maskOver(s, e) === BIT[ONLINE] ? 'false-offline' : 'wrong-status';

  // ---- 2. server truth: samples ----------------------------------------------------------------------
  const EPS = 5;
  const reported = new Set<string>();
  for (const s of samples) {
    if (s.t0 > horizon) continue;
    for (const [u, v] of Object.entries(s.status)) {
      const tr = truth.get(u);
      if (!tr) continue;
      if (overlaps(tr.possible(v), s.t0 - EPS, s.t1 + EPS)) continue;
      const kind = kindFor(v, tr, s.t0, s.t1);
      const key = `sample|${kind}|${u}`;
      if (reported.has(key)) continue; // one excerpt per user and kind is enough
      reported.add(key);
      violate(
        kind,
        `query_online_status said ${u} is ${NAME[v]} at ${rel(s.t0)}..${rel(s.t1)}; the history allows only ${maskNames(tr.maskOver(s.t0, s.t1))} then`,
        s.t0,
        excerpt({ users: [u], from: s.t0 - lookback, to: s.t1 }),
      );
    }
  }

  // ---- 3. watchers ---------------------------------------------------------------------------------
  let judgedMs = 0;
  for (const [key, list] of views) {
    const [cid, u] = key.split('|') as [string, string];
    const c = clients.get(cid);
    const tr = truth.get(u);
    if (!c || !tr || u === c.u) continue;
    list.sort((a, b) => a.t - b.t);
    // Connected and synced.
    const ready: Iv[] = [];
    let first = true;
    for (const L of c.links) {
      const start = first ? (L.loginReply?.code === 0 ? L.loginReply.t : undefined) : L.syncOk;
      if (L.loginReply?.code === 0) first = false;
      if (start === undefined) continue;
      const end = Math.min(L.close?.t ?? INF, c.silence?.t ?? INF, c.crashT ?? INF, c.end?.t ?? INF, horizon);
      ready.push([start, end]);
    }
    // Holding the relation, and heard of U since it began.
    const fresh: Iv[] = [];
    for (const [rs, re] of relYes(c.u, u)) {
      const heard = list.find((v) => v.t >= rs && v.t < re);
      if (heard) fresh.push([heard.t, re]);
    }
    const judged = subtract(intersect(merge(ready), merge(fresh)), faultWindows(c));
    judgedMs += total(judged);
    for (let i = 0; i < list.length; i++) {
      const v = list[i]!;
      const segEnd = i + 1 < list.length ? list[i + 1]!.t : horizon;
      const pieces = intersect([[v.t, segEnd]], judged);
      if (pieces.length === 0) continue;
      const bad = subtract(pieces, dilate(tr.possible(v.item.statusType), B.deliveryMs));
      if (total(bad) <= 1) continue;
      const at = bad[0]![0];
      const kind = kindFor(v.item.statusType, tr, at - B.deliveryMs, at);
      const k2 = `view|${kind}|${cid}|${u}`;
      if (reported.has(k2)) continue;
      reported.add(k2);
      violate(
        kind,
        `${cid} (${c.u}) shows ${u} as ${NAME[v.item.statusType]} (heard at ${rel(v.t)}) for ${Math.round(total(bad))} ms from ${rel(at)}, while the history allows only ${maskNames(tr.maskOver(at - B.deliveryMs, at))} (delivery bound ${B.deliveryMs} ms)`,
        at,
        excerpt({ users: [u], clients: [cid], from: at - lookback, to: at + B.deliveryMs }),
      );
    }
  }

  // ---- 4. order of pushes (S22) ------------------------------------------------------------------------
  const setOrder = new Map<string, Map<string, number>>();
  const setOps = new Map<string, OpRec[]>();
  for (const op of ops) {
    if (op.op !== 'setSelfStatus') continue;
    const v = op.args.customStatus as string;
    const m = setOrder.get(op.u) ?? new Map<string, number>();
    const list = setOps.get(op.u) ?? [];
    if (v !== '' && !m.has(v)) {
      m.set(v, list.length);
    }
    list.push(op);
    setOrder.set(op.u, m);
    setOps.set(op.u, list);
  }
  for (const L of links.values()) {
    const c = clients.get(L.c);
    if (!c) continue;
    const last = new Map<string, StatusItem & { t: number }>();
    /** The relation held all through [a, b]: no change of U in between could have been missed. */
    const heldThrough = (u: string, a: number, b: number) => total(intersect([[a, b]], relYes(c.u, u))) >= b - a - 0.001;
    const lastIdx = new Map<string, { idx: number; t: number }>();
    for (const p of L.pushes) {
      if (p.t > horizon) break;
      for (const item of p.items) {
        const u = item.userID;
        const prev = last.get(u);
        const focus = { users: [u], clients: [L.c] };
        if (
          prev &&
          prev.statusType === item.statusType &&
          prev.customStatus === item.customStatus &&
          !(item.statusType === ONLINE && item.customStatus === '') &&
          heldThrough(u, prev.t, p.t)
        ) {
          violate('duplicate', `${L.l} (${c.u}) got ${fmtItem(item)} twice in a row (S22)`, p.t, excerpt({ ...focus, from: p.t - lookback, to: p.t }));
        }
        last.set(u, { ...item, t: p.t });
        if (item.customStatus === '') continue;
        const idx = setOrder.get(u)?.get(item.customStatus);
        if (idx === undefined) {
          violate('phantom-status', `${L.l} (${c.u}) got ${fmtItem(item)}, a custom status ${u} never set`, p.t, excerpt({ ...focus, from: p.t - lookback, to: p.t }));
          continue;
        }
        const before = lastIdx.get(u);
        const valueAt = (i: number) => [...(setOrder.get(u) ?? new Map<string, number>())].find(([, n]) => n === i)?.[0] ?? `#${i}`;
        if (before && idx < before.idx) {
          violate(
            'out-of-order',
            `${L.l} (${c.u}) got ${u}'s custom status "${item.customStatus}" after "${valueAt(before.idx)}": out of the order ${u} set them (S22)`,
            p.t,
            excerpt({ ...focus, from: before.t - 2000, to: p.t }),
          );
        } else if (before && idx > before.idx + 1) {
          // A value set in between, while this link and the relation certainly held, never came.
          const yes = relYes(c.u, u);
          const missed = (setOps.get(u) ?? []).find((op) => {
            const oi = setOrder.get(u)?.get(op.args.customStatus as string);
            return (
              oi !== undefined &&
              oi > before.idx &&
              oi < idx &&
              op.outcome === 'ok' &&
              op.t0 > before.t &&
              op.t1 < p.t &&
              intersect([[op.t0, op.t1]], yes).length > 0 &&
              total(intersect([[op.t0, op.t1]], yes)) >= op.t1 - op.t0
            );
          });
          if (missed) {
            violate(
              'lost-push',
              `${L.l} (${c.u}) got ${u}'s custom status "${valueAt(before.idx)}" then "${item.customStatus}"; "${missed.args.customStatus as string}", set and acknowledged in between, never came (S22)`,
              p.t,
              excerpt({ ...focus, from: before.t - 500, to: p.t }),
            );
          }
        }
        if (!before || idx >= before.idx) lastIdx.set(u, { idx, t: p.t });
      }
    }
  }

  // ---- 5. durability ----------------------------------------------------------------------------------
  for (const d of durable) {
    for (const kind of ['sub', 'friend'] as const) {
      const present = new Set(kind === 'sub' ? d.subs : d.friends);
      const targets = new Set<string>([...present]);
      for (const k of relations.keys()) if (k.startsWith(`${d.u}|`)) targets.add(k.slice(d.u.length + 1));
      for (const target of targets) {
        const r = relations.get(`${d.u}|${target}`);
        const state: Tri = r ? r[kind].at_(horizon) : 'no';
        const what = kind === 'sub' ? 'subscription' : 'friendship';
        const ex = () =>
          excerpt({ users: [d.u, target], from: T0, to: d.t, max: 200 })
            .filter((line) => (line.includes(target) && line.includes(d.u)) || line.includes('FAULT') || line.includes('node '))
            .slice(-30);
        if (state === 'yes' && !present.has(target)) violate('lost-write', `the acknowledged ${what} ${d.u} -> ${target} is not in the store at the end`, d.t, ex());
        if (state === 'no' && present.has(target)) violate('phantom-write', `the store holds a ${what} ${d.u} -> ${target} that was removed or never asked for`, d.t, ex());
      }
    }
  }

  // ---- 6. agreement -------------------------------------------------------------------------------------
  const finalSample = samples.find((s) => s.final);
  let lastFinal = 0;
  for (const op of ops) {
    if (op.op !== 'getUserStatus' || op.args.final !== true || !op.c || op.outcome !== 'ok') continue;
    lastFinal = Math.max(lastFinal, op.t1);
    const c = clients.get(op.c)!;
    for (const item of (op.data as { successUserList?: StatusItem[] }).successUserList ?? []) {
      const list = views.get(`${op.c}|${item.userID}`) ?? [];
      const yes = relYes(c.u, item.userID);
      const runStart = yes.find(([s, e]) => s <= op.t0 && op.t0 < e)?.[0];
      const before = list.filter((v) => v.t < op.t1 && !v.final && runStart !== undefined && v.t >= runStart);
      const seen = before[before.length - 1];
      bump('agreement pairs');
      if (seen && (seen.item.statusType !== item.statusType || seen.item.customStatus !== item.customStatus)) {
        violate(
          'disagreement',
          `at the end ${op.c} (${c.u}) shows ${fmtItem(seen.item)} but its getUserStatus says ${fmtItem(item)}`,
          op.t1,
          excerpt({ users: [item.userID], clients: [op.c], from: op.t1 - lookback, to: op.t1 }),
        );
      }
      if (finalSample && finalSample.status[item.userID] !== undefined && finalSample.status[item.userID] !== item.statusType) {
        const tr = truth.get(item.userID);
        const settled = tr && [ONLINE, OFFLINE, UNLOGINED].filter((s) => tr.maskOver(op.t0, finalSample.t1) & BIT[s]!).length === 1;
        if (settled) {
          violate(
            'disagreement',
            `at the end getUserStatus (${op.c}) says ${fmtItem(item)} but query_online_status says ${NAME[finalSample.status[item.userID]!]}`,
            finalSample.t1,
            excerpt({ users: [item.userID], from: op.t0 - lookback, to: finalSample.t1 }),
          );
        }
      }
    }
  }
  const agreeAfter = lastFinal > 0 ? lastFinal - Math.max(lastFaultEnd, quietT) : 0;
  if (lastFinal > 0 && agreeAfter > B.agreeMs) {
    violate('slow-agreement', `the last watcher agreed ${Math.round(agreeAfter)} ms after the faults stopped; the bound is ${B.agreeMs} ms`, lastFinal, []);
  }

  // ---- 7. recovery ------------------------------------------------------------------------------------
  let worstGap = 0;
  for (const c of clients.values()) {
    for (let i = 0; i < c.links.length; i++) {
      const L = c.links[i]!;
      const close = L.close;
      if (!close || close.by === 'crash' || L.logoutSend !== undefined || L.kickT !== undefined || close.t > quietT) continue;
      if (c.silence || (c.end && c.end.t <= close.t + B.finMs)) continue;
      if (L.loginReply?.code !== 0) continue;
      const cause = faults.filter((f) => affects(f, c) && f.t <= close.t && close.t <= f.end + B.recoveryMs);
      const from = Math.max(close.t, ...cause.map((f) => f.end));
      const back = c.links.slice(i + 1).find((x) => x.loginReply?.code === 0);
      const backT = back ? back.loginReply!.t : c.end ? INF : INF;
      if (c.end && c.end.t < backT) continue; // the client ended on purpose before coming back
      worstGap = Math.max(worstGap, Math.min(backT, horizon) - close.t);
      if (backT - from > B.recoveryMs) {
        const atT = from + B.recoveryMs;
        violate(
          back ? 'slow-recovery' : 'no-recovery',
          back
            ? `${c.c} (${c.u}) came back ${Math.round(backT - from)} ms after ${L.l} closed${cause.length ? ' and its fault ended' : ''}; the bound is ${B.recoveryMs} ms`
            : `${c.c} (${c.u}) never came back after ${L.l} closed at ${rel(close.t)}`,
          atT,
          excerpt({ users: [c.u], clients: [c.c], from: close.t - 2000, to: Math.min(backT, horizon) }),
        );
      }
    }
  }

  // ---- figures -----------------------------------------------------------------------------------------
  const figures: Record<string, number> = { judgedWatcherMs: Math.round(judgedMs), worstReconnectGapMs: Math.round(worstGap), agreementAfterFaultsMs: Math.round(agreeAfter) };
  const firstNotOnline = (u: string, from: number) => samples.find((s) => s.t0 >= from && s.status[u] !== undefined && s.status[u] !== ONLINE);
  const ghostAfter = (kind: string, u: string, from: number) => {
    const s = firstNotOnline(u, from);
    const tr = truth.get(u);
    if (!s || !tr || tr.maskOver(from, s.t1) === BIT[ONLINE]) return;
    if (faults.some((f) => f.t < s.t1 && f.end + B.recoveryMs > from)) return; // measured outside faults only
    const k = `ghost after ${kind} (max ms)`;
    figures[k] = Math.max(figures[k] ?? 0, Math.round(s.t1 - from));
  };
  for (const c of clients.values()) {
    const others = (t: number) => [...clients.values()].some((o) => o.u === c.u && o !== c && o.links.some((L) => contains(L.possible, t)));
    if (c.crashT !== undefined && !others(c.crashT + B.finMs)) ghostAfter('FIN', c.u, c.crashT);
    if (c.silence && !others(c.silence.lastSent + B.heartbeatTimeoutMs)) ghostAfter('silence', c.u, c.silence.lastSent);
  }
  for (const s of severed) {
    const L = [...links.values()].find((x) => x.port === s.port && clients.get(x.c)?.path === s.path && x.openT <= s.t);
    const c = L ? clients.get(L.c) : undefined;
    if (c && !c.links.some((x) => x !== L && x.loginSend !== undefined && x.loginSend < s.lastUp + B.heartbeatTimeoutMs + B.heartbeatGraceMs))
      ghostAfter('half-open', c.u, s.lastUp);
  }
  violations.sort((a, b) => a.t - b.t);
  return { ok: violations.length === 0, seed: meta.seed, violations, stats, figures, bounds: B };
}

function maskNames(m: number): string {
  const names = [ONLINE, OFFLINE, UNLOGINED].filter((s) => m & BIT[s]!).map((s) => NAME[s]);
  return names.length ? names.join(' or ') : 'nothing';
}

export function formatReport(v: Verdict): string {
  const lines: string[] = [];
  lines.push(`verdict: ${v.ok ? 'PASS' : `FAIL (${v.violations.length} violations)`}  seed ${v.seed}`);
  const b = v.bounds;
  lines.push(
    `bounds: FIN ${b.finMs} ms, heartbeat timeout ${b.heartbeatTimeoutMs} + ${b.heartbeatGraceMs} ms, slack ${b.slackMs} ms, delivery ${b.deliveryMs} ms, recovery ${b.recoveryMs} ms, agreement ${b.agreeMs} ms`,
  );
  lines.push(
    `history: ${Object.entries(v.stats)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  lines.push(
    `figures: ${Object.entries(v.figures)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  const byKind = new Map<string, number>();
  for (const x of v.violations) byKind.set(x.kind, (byKind.get(x.kind) ?? 0) + 1);
  if (byKind.size) lines.push(`violations: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  // The first few of each kind, in time order.
  const shown = new Map<string, number>();
  const pick = v.violations.filter((x) => {
    const n = shown.get(x.kind) ?? 0;
    shown.set(x.kind, n + 1);
    return n < 3;
  });
  for (const x of pick) {
    lines.push('', `[${x.kind}] ${x.message}`);
    for (const e of x.excerpt) lines.push(`    ${e}`);
  }
  if (v.violations.length > pick.length) lines.push('', `... and ${v.violations.length - pick.length} more of the same kinds`);
  return lines.join('\n');
}
