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
