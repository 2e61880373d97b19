/** A TCP proxy in front of a server, to cut the network under a client on demand (S3, S23). */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class CutProxy {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly sockets: Set<Socket>,
  ) {}

  static async start(targetPort: number): Promise<CutProxy> {
    const sockets = new Set<Socket>();
    const state = { blocked: false };
    const server = createServer((client) => {
      if (state.blocked) {
        client.resetAndDestroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const proxy = new CutProxy(server, port, sockets);
    proxy.state = state;
    return proxy;
  }

  private state = { blocked: false };

  /** While blocked, new connections are reset at once (the network stays down). */
  block(): void {
    this.state.blocked = true;
  }
  unblock(): void {
    this.state.blocked = false;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Resets every connection through the proxy, like a network loss. */
  cut(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
