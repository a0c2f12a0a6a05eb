import { AddressInfo, Server, Socket, createConnection, createServer } from 'node:net';
import { onCleanup } from '../support/processes';

/** One client connection and its upstream, and what is held back while the proxy is silent. */
interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly held: { to: Socket; chunk: Buffer }[];
}

/**
 * A TCP proxy between consumers and Redis that can go silent: while silent, nothing is forwarded
 * in either direction (bytes are held back, connections stay open: a connection that stops
 * answering, as behind a dead NAT or a frozen VM). It then either resumes (everything held back
 * is delivered, late) or drops every connection (the clients reconnect through it). It can also
 * be slow: with `delay(ms)` every chunk goes through `ms` late, either way, in order (a congested
 * link, or a Redis too busy to answer in time).
 */
export class SilentProxy {
  private readonly pairs = new Set<Pair>();
  private silent = false;
  private delayMs = 0;
  private readonly untrack: () => void;

  private constructor(private readonly server: Server, private readonly target: { host: string; port: number }) {
    this.untrack = onCleanup(() => this.closeNow());
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<SilentProxy> {
    const server = createServer();
    const proxy = new SilentProxy(server, { host: targetHost, port: targetPort });
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    const upstream = createConnection(this.target);
    const pair: Pair = { client, upstream, held: [] };
    this.pairs.add(pair);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.silent) pair.held.push({ to, chunk });
      else if (this.delayMs > 0) {
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, this.delayMs);
      }
      else to.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const close = (): void => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  }

  /** From now on every chunk is forwarded `ms` late (0: at once again). */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** From now on nothing gets through, either way. */
  goSilent(): void {
    this.silent = true;
  }

  /** Delivers everything held back, in order, and forwards again. */
  resume(): void {
    this.silent = false;
    for (const pair of this.pairs) for (const { to, chunk } of pair.held.splice(0)) if (!to.destroyed) to.write(chunk);
  }

  /** Drops every connection (what was held back is lost) and forwards again for new ones. */
  drop(): void {
    this.silent = false;
    for (const pair of [...this.pairs]) {
      pair.held.length = 0;
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  private closeNow(): void {
    this.drop();
    this.server.close();
  }

  close(): void {
    this.untrack();
    this.closeNow();
  }
}
