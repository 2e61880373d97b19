/**
 * A TCP proxy in front of PostgreSQL, so a test can take the database away from one store (as a
 * restart or a network loss would) without touching the shared server: `down()` resets every
 * connection and refuses new ones until `up()`.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private blocked = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  /** Connections accepted so far (a client reconnecting shows here). */
  accepted = 0;

  private constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => this.onClient(client));
  }

  /** Listens on 127.0.0.1 (a free port) and forwards to `host:port`. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', () => resolve()));
    return proxy;
  }

  /** The same PostgreSQL URL, through this proxy. */
  static async forUrl(url: string): Promise<{ proxy: TcpProxy; url: string }> {
    const u = new URL(url);
    const proxy = await TcpProxy.start(u.hostname, Number(u.port || 5432));
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    return { proxy, url: u.href };
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private onClient(client: Socket): void {
    if (this.blocked) {
      client.resetAndDestroy();
      return;
    }
    this.accepted++;
    const upstream = connect(this.targetPort, this.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** The database is gone: every connection is reset, new ones are refused. */
  down(): void {
    this.blocked = true;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  /** The database is back: new connections go through. */
  up(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
