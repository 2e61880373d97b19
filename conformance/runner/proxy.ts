/**
 * A TCP proxy in front of the server, one per client that a scenario routes through it, so the
 * runner can take the network away under an SDK without touching the SDK: `cut` resets every
 * connection (a network loss), `block` refuses new ones until `unblock`, and `freeze` stops
 * forwarding bytes on the current connections while keeping them open (a half-dead network that
 * only heartbeats can detect).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

export class CutProxy {
  private readonly pairs = new Set<Pair>();
  private blocked = false;
  private server: Server | null = null;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    if (this.blocked) {
      reset(client);
      return;
    }
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
    client.on('data', (d: Buffer) => {
      if (!pair.frozen) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!pair.frozen) client.write(d);
    });
  }

  /** Resets every connection through the proxy, like a network loss. */
  cut(): void {
    for (const p of this.pairs) {
      reset(p.client);
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** While blocked, new connections are reset at once (the network stays down). */
  block(): void {
    this.blocked = true;
  }

  unblock(): void {
    this.blocked = false;
  }

  /** The current connections stay open but carry nothing more, either way; new ones work. */
  freeze(): void {
    for (const p of this.pairs) p.frozen = true;
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Drops a connection with a TCP reset, as a lost network does. Only on a socket that is open:
 * a reset of one that is still connecting or already closing can leave a handle that keeps
 * Node from exiting, so those are just destroyed.
 */
function reset(s: Socket): void {
  if (!s.destroyed && !s.connecting && s.readyState === 'open') s.resetAndDestroy();
  else s.destroy();
}
