/**
 * A tiny TCP load balancer in front of several servers, for WebSocket cluster tests: each new
 * client connection is piped to the next backend, round-robin; a backend that refuses (or does
 * not answer within a moment) is skipped for the next one. Backends can change at run time.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface Balancer {
  port: number;
  /** ws://127.0.0.1:PORT */
  url: string;
  /** The backends new connections go to ('host:port'). */
  backends(): string[];
  /** Replaces the backend list; open connections stay where they are. */
  setBackends(list: string[]): void;
  /** Takes a backend out of the rotation; with `drop: true` its open connections are reset too. */
  remove(backend: string, opts?: { drop?: boolean }): void;
  /** Connections piped so far, by backend. */
  counts(): Record<string, number>;
  /** Closes the listener and destroys every piped socket. */
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 2000;

function parse(backend: string): { host: string; port: number } {
  const i = backend.lastIndexOf(':');
  const port = Number(backend.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port <= 0) throw new Error(`bad backend ${JSON.stringify(backend)}`);
  return { host: backend.slice(0, i) || '127.0.0.1', port };
}

/** Connects to the first backend of `order` that accepts, or undefined when none does. */
async function connectFirst(order: string[], isCancelled: () => boolean): Promise<{ backend: string; socket: Socket } | undefined> {
  for (const backend of order) {
    if (isCancelled()) return undefined;
    const { host, port } = parse(backend);
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(port, host);
      const fail = () => {
        s.destroy();
        resolve(undefined);
      };
      s.setTimeout(CONNECT_TIMEOUT_MS, fail);
      s.once('error', fail); // ECONNREFUSED and the like: try the next backend
      s.once('connect', () => {
        s.setTimeout(0);
        s.off('error', fail);
        resolve(s);
      });
    });
    if (socket) return { backend, socket };
  }
  return undefined;
}

export async function startBalancer(initial: string[]): Promise<Balancer> {
  initial.forEach(parse);
  let list = [...initial];
  let next = 0;
  let closed = false;
  const piped = new Map<Socket, string>(); // every open socket (client or upstream) -> its backend
  const clients = new Set<Socket>(); // clients still waiting for an upstream
  const counts: Record<string, number> = {};

  const server = createServer((client) => {
    clients.add(client);
    client.pause(); // hold what the client sends until the upstream is connected
    let gone = false;
    client.on('error', () => client.destroy());
    client.once('close', () => {
      gone = true;
      clients.delete(client);
    });
    const snapshot = list;
    const start = snapshot.length ? next % snapshot.length : 0;
    const order = [...snapshot.slice(start), ...snapshot.slice(0, start)];
    void connectFirst(order, () => gone || closed).then((found) => {
      clients.delete(client);
      if (!found) {
        client.destroy();
        return;
      }
      const { backend, socket: upstream } = found;
      if (gone || closed) {
        upstream.destroy();
        client.destroy();
        return;
      }
      // The one after the backend that took it, so skipping a dead one keeps the live ones alternating.
      const idx = snapshot.indexOf(backend);
      next = idx + 1;
      counts[backend] = (counts[backend] ?? 0) + 1;
      for (const s of [client, upstream]) {
        piped.set(s, backend);
        s.on('close', () => piped.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      // One side closing closes the other (pipe ends the write side; destroy covers resets).
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    backends: () => [...list],
    setBackends(l) {
      l.forEach(parse);
      list = [...l];
      next = 0;
    },
    remove(backend, opts = {}) {
      list = list.filter((b) => b !== backend);
      if (opts.drop) for (const [s, b] of piped) if (b === backend) s.resetAndDestroy();
    },
    counts: () => ({ ...counts }),
    async close() {
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of [...piped.keys(), ...clients]) s.destroy();
      piped.clear();
      clients.clear();
      await done;
    },
  };
}
