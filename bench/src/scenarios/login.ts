/**
 * W2 login storm: N users (not logged in, friends imported) connect and log in with UserSigs,
 * at most 500 logins in flight. Latency is connect + login reply (also split into the WebSocket
 * handshake and the login frame's reply).
 *
 * "Friends notified": of two friends, the server logs one in first; when the second logs in, the
 * first is online and must get its ONLINE push; the second learns of the first from a query. So
 * every friend pair must produce exactly one ONLINE push: pushes received = N*K/2 (checked), and
 * none twice. As a check that does not rely on that count, a friend F whose login reply came
 * before U sent its login frame was certainly logged in first, so it must have U's push ("required"
 * pairs; how many there are depends on how the logins overlap).
 */
import { sleep } from '../clock.js';
import { workersFor } from '../modes.js';
import { Window } from '../procstat.js';
import { bringUp, loginAll, tearDown, type Ctx, type Kind } from './common.js';

export interface W2Result {
  kind: Kind;
  n: number;
  ok: number;
  failed: number;
  perSec: number;
  p50: number;
  p99: number;
  max: number;
  handshakeP50: number;
  handshakeP99: number;
  replyP50: number;
  replyP99: number;
  /** Friend pairs (unordered) in the graph: each must produce exactly one ONLINE push. */
  pairs: number;
  cores: number;
  loadgenCores: number;
  foreignCores: number;
  required: number;
  requiredSeen: number;
  seenTotal: number;
  dupOnline: number;
  errors: string[];
}

export async function runLogin(ctx: Ctx, kind: Kind): Promise<W2Result> {
  const { mode } = ctx;
  // Client-side handshakes cost more CPU than the server's side: two generator processes at least,
  // or the generator, not the server, sets the login rate.
  const t = await bringUp(ctx, kind, mode.w2N, Math.max(2, workersFor(mode, mode.w2N)));
  try {
    await t.pool.all('track', { online: true });
    await sleep(300);
    const win = new Window(t.srv.pid, t.pool.pids);
    const r = await loginAll(t, mode.w2InFlight);
    const st = win.end();
    let first = Infinity;
    let last = 0;
    for (let i = 0; i < t.n; i++) {
      if (r.sentAt[i]! > 0) first = Math.min(first, r.sentAt[i]!);
      if (r.doneAt[i]! > 0) last = Math.max(last, r.doneAt[i]!);
    }
    await sleep(1000); // pushes still in flight
    const checks = await t.pool.all('loginCheck', { loginAt: r.loginAt, doneAt: r.doneAt, marginMs: 2 });
    const out: W2Result = {
      kind,
      n: t.n,
      ok: r.ok,
      failed: r.failed,
      perSec: r.ok / ((last - first) / 1000),
      p50: r.hist.percentile(50),
      p99: r.hist.percentile(99),
      max: r.hist.max,
      handshakeP50: r.handshake.percentile(50),
      handshakeP99: r.handshake.percentile(99),
      replyP50: r.reply.percentile(50),
      replyP99: r.reply.percentile(99),
      pairs: (t.n * mode.k) / 2,
      cores: st.cores,
      loadgenCores: st.otherCores,
      foreignCores: st.foreignCores,
      required: checks.reduce((a, c) => a + c.required, 0),
      requiredSeen: checks.reduce((a, c) => a + c.requiredSeen, 0),
      seenTotal: checks.reduce((a, c) => a + c.seenTotal, 0),
      dupOnline: checks.reduce((a, c) => a + c.dupOnline, 0),
      errors: r.errors,
    };
    ctx.log(
      `  ${kind} W2 ${out.ok}/${t.n} logins: ${Math.round(out.perSec)}/s, p50 ${out.p50.toFixed(1)} p99 ${out.p99.toFixed(1)} max ${out.max.toFixed(1)} ms, ` +
        `(handshake p50 ${out.handshakeP50.toFixed(1)} p99 ${out.handshakeP99.toFixed(1)}, login reply p50 ${out.replyP50.toFixed(1)} p99 ${out.replyP99.toFixed(1)}), ` +
        `server ${out.cores.toFixed(2)} cores, loadgen ${out.loadgenCores.toFixed(2)}, other work ${out.foreignCores.toFixed(2)}; friend ONLINE pushes ${out.seenTotal} of ${out.pairs} pairs, ` +
        `${out.requiredSeen}/${out.required} where the friend was logged in first` +
        (out.failed ? `; ${out.failed} failed: ${out.errors.join('; ')}` : ''),
    );
    return out;
  } finally {
    await tearDown(t);
  }
}
