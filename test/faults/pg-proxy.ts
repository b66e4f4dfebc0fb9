/**
 * A TCP proxy on loopback in front of the PostgreSQL server, so a test can "restart PostgreSQL" as
 * clients see it — every connection cut at once, new ones refused until it comes back — without
 * touching the server the other test files share.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class PgOutageProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private down = false;
  port = 0;

  constructor(
    private readonly targetHost = '127.0.0.1',
    private readonly targetPort = 5432,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Rewrites a connection string to go through the proxy. */
  url(target: string): string {
    const u = new URL(target);
    u.host = `127.0.0.1:${this.port}`;
    return u.toString();
  }

  /** PostgreSQL "goes down": every connection is cut and new ones are refused. */
  cut(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}
