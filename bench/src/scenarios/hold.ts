/**
 * W3 hold: one server process holds S idle sessions (K friends and `w3Subs` subscriptions each)
 * that send heartbeats at the server's real interval (60 s with the default 400 s timeout).
 *
 * Memory: the server runs with the V8 inspector open (127.0.0.1, free port) so the bench can force
 * a full GC before each reading; garbage left by the login and subscribe bursts is then not
 * charged to sessions. It is measured at the margin, so one-time warm-up (JIT, first allocations)
 * is not charged either: 10% of the sessions log in and subscribe first (reading a), then the other
 * 90% (reading b after the hold): per session = (b - a) / 0.9 S, for RSS and for the JS heap. The
 * plain average (b - no session) / S and the RSS during the hold (no forced GC) are reported too.
 * CPU = the server's whole CPU during the hold (heartbeat frames + the liveness sweep + idle).
 */
import { sleep } from '../clock.js';
import { collectGarbage } from '../inspector.js';
import { workersFor } from '../modes.js';
import { Window } from '../procstat.js';
import { bringUp, mustLoginAll, tearDown, type Ctx, type Kind, type LoginAll, type Target } from './common.js';

export interface W3Result {
  kind: Kind;
  sessions: number;
  subscriptions: number;
  rssIdleMiB: number;
  rssFirstMiB: number;
  /** RSS after the hold and a forced GC, MiB. */
  rssAfterMiB: number;
  /** Mean RSS during the hold (no forced GC), MiB. */
  rssHoldMiB: number;
  /** Marginal RSS per session (the figure), KiB. */
  rssPerSessionKiB: number;
  /** Plain average over all sessions, KiB. */
  rssAvgPerSessionKiB: number;
  /** Marginal JS heap per session, KiB. */
  heapPerSessionKiB: number;
  cpuPctOfCore: number;
  foreignCores: number;
  holdSec: number;
  ready: number;
  closedUnexpected: number;
  /** Wall time of the two login phases together (10% then 90%; not the readings or subscribes), s. */
  loginSec: number;
  /** Heartbeats sent by the clients during the whole scenario, and replies not received. */
  heartbeats: number;
  heartbeatsMissed: number;
}

/** Wall time from the first connect to the last login reply of one login phase, s. */
export function loginSpan(r: LoginAll): number {
  let first = Infinity;
  let last = 0;
  for (let i = 0; i < r.sentAt.length; i++) {
    if (r.sentAt[i]! > 0) first = Math.min(first, r.sentAt[i]!);
    if (r.doneAt[i]! > 0) last = Math.max(last, r.doneAt[i]!);
  }
  return last > first ? (last - first) / 1000 : 0;
}

export async function subscribeAll(ctx: Ctx, t: Target): Promise<void> {
  const subs = await t.pool.all('subscribe', { count: ctx.mode.w3Subs, seed: ctx.seed, concurrency: Math.max(1, Math.floor(200 / t.workers)) });
  const failed = subs.reduce((a, s) => a + s.failed, 0);
  if (failed > 0) throw new Error(`${t.kind}: ${failed} subscribe calls failed: ${subs.flatMap((s) => s.errors).join('; ')}`);
}

/** Forces a full GC in the server, then reads its RSS (mean over 1.5 s) and JS heap. */
async function reading(t: Target): Promise<{ rss: number; heap: number }> {
  if (!t.srv.inspector) throw new Error(`${t.kind}: no inspector URL in the server's output`);
  const heap = await collectGarbage(t.srv.inspector);
  await sleep(300);
  const w = new Window(t.srv.pid, [], 250);
  await sleep(1500);
  return { rss: w.end().rssMean, heap };
}

export async function runHold(ctx: Ctx, kind: Kind): Promise<W3Result> {
  const { mode } = ctx;
  const S = mode.w3Sessions;
  const t = await bringUp(ctx, kind, S, workersFor(mode, S), { inspect: true });
  try {
    await sleep(1000);
    const idle = await reading(t);
    const first = await mustLoginAll(t, mode.w2InFlight, Math.max(1, Math.ceil((S * 0.1) / t.workers)));
    await subscribeAll(ctx, t);
    await sleep(1000);
    const a = await reading(t);
    const rest = await mustLoginAll(t, mode.w2InFlight);
    await subscribeAll(ctx, t);
    await sleep(3000); // let the login and subscribe bursts settle
    const win = new Window(t.srv.pid, t.pool.pids, 500);
    await sleep(mode.holdSec * 1000);
    const st = win.end();
    const b = await reading(t);
    const status = await t.pool.all('status', {});
    const ready = status.reduce((x, s) => x + s.ready, 0);
    const later = S - first.ok;
    const hbSent = status.reduce((x, s) => x + s.hbSent, 0);
    const out: W3Result = {
      kind,
      sessions: S,
      subscriptions: mode.w3Subs,
      rssIdleMiB: idle.rss / 2 ** 20,
      rssFirstMiB: a.rss / 2 ** 20,
      rssAfterMiB: b.rss / 2 ** 20,
      rssHoldMiB: st.rssMean / 2 ** 20,
      rssPerSessionKiB: (b.rss - a.rss) / later / 1024,
      rssAvgPerSessionKiB: (b.rss - idle.rss) / S / 1024,
      heapPerSessionKiB: (b.heap - a.heap) / later / 1024,
      cpuPctOfCore: st.cores * 100,
      foreignCores: st.foreignCores,
      holdSec: st.seconds,
      ready,
      closedUnexpected: status.reduce((x, s) => x + s.closedUnexpected, 0),
      loginSec: loginSpan(first) + loginSpan(rest),
      heartbeats: hbSent,
      heartbeatsMissed: hbSent - status.reduce((x, s) => x + s.hbAcked, 0),
    };
    ctx.log(
      `  ${kind} W3 ${ready}/${S} sessions held ${st.seconds.toFixed(0)} s: RSS after GC ${out.rssIdleMiB.toFixed(0)} (no session) -> ` +
        `${out.rssFirstMiB.toFixed(0)} (${first.ok}) -> ${out.rssAfterMiB.toFixed(0)} MiB (${S}), ${out.rssHoldMiB.toFixed(0)} MiB during the hold; ` +
        `${out.rssPerSessionKiB.toFixed(1)} KiB RSS and ${out.heapPerSessionKiB.toFixed(1)} KiB JS heap per session at the margin, ` +
        `${out.rssAvgPerSessionKiB.toFixed(1)} KiB RSS on average; CPU ${out.cpuPctOfCore.toFixed(2)}% of a core (other work ${out.foreignCores.toFixed(2)} cores)`,
    );
    return out;
  } finally {
    await tearDown(t);
  }
}
