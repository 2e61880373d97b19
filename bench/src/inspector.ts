/**
 * A minimal client of a server process's V8 inspector: W3 uses it to run a full garbage
 * collection before reading RSS, so garbage left by the login and subscribe bursts is not charged
 * to sessions, and to read the JS heap size.
 */
import WebSocket from 'ws';
import { sleep } from './clock.js';

async function call(url: string, method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return await new Promise((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString('utf8')) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
        if (m.id !== 1) return;
        if (m.error) reject(new Error(`inspector ${method}: ${m.error.message}`));
        else resolve(m.result ?? {});
      });
      ws.send(JSON.stringify({ id: 1, method, params }));
    });
  } finally {
    ws.close();
  }
}

/** Full GC (twice, so weakly held and finalized objects go too), then the JS heap in use, bytes. */
export async function collectGarbage(url: string): Promise<number> {
  await call(url, 'HeapProfiler.collectGarbage');
  await sleep(100);
  await call(url, 'HeapProfiler.collectGarbage');
  const usage = await call(url, 'Runtime.getHeapUsage');
  return Number(usage.usedSize);
}

/**
 * A CPU profile of the process while `fn` runs (V8 inspector Profiler, one session held open):
 * returns fn's result and the profile (`.cpuprofile` JSON, for Chrome DevTools or `summarizeProfile`).
 */
export async function cpuProfile<T>(url: string, fn: () => Promise<T>, intervalUs = 1000): Promise<[T, unknown]> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 2 ** 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8')) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    const p = m.id !== undefined ? pending.get(m.id) : undefined;
    if (!p) return;
    pending.delete(m.id!);
    if (m.error) p.reject(new Error(m.error.message));
    else p.resolve(m.result ?? {});
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: intervalUs });
    await send('Profiler.start');
    const out = await fn();
    const r = await send('Profiler.stop');
    return [out, r.profile];
  } finally {
    ws.close();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** The functions with the most self time in a profile: "self% total% name (file:line)" lines. */
export function summarizeProfile(profile: unknown, top = 25): string[] {
  const p = profile as { nodes: ProfileNode[]; samples?: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const total = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} (${n.callFrame.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1})`;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const n of p.nodes) {
    const h = n.hitCount ?? 0;
    if (h === 0) continue;
    self.set(key(n), (self.get(key(n)) ?? 0) + h);
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const k = key(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + h);
    }
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, h]) => `${((100 * h) / total).toFixed(1).padStart(5)}% self ${((100 * (incl.get(k) ?? 0)) / total).toFixed(1).padStart(5)}% total  ${k}`);
}
