// One request, one reply over a unix or TCP socket, under one deadline that covers
// connecting, sending and the reply: what the clamd and spamd clients both need. The
// protocol stays with the caller: it writes the request and says when a reply is whole;
// this module only moves bytes and reports how the exchange ended.
import { connect, type Socket } from 'node:net';

export type SocketAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface SocketExchangeOptions {
  address: SocketAddress;
  timeoutMs: number;
  /** Writes the request once connected. */
  send(sock: Socket): void;
  /** After each chunk received: is the reply complete? (Without it, the reply ends when the peer closes.) */
  complete?(received: Buffer): boolean;
  /** Upper bound on the reply, in bytes. */
  maxBytes?: number;
}

/** Why an exchange ended without a reply; `received` is what came before that. */
export class SocketExchangeError extends Error {
  constructor(
    readonly reason: 'timeout' | 'too-large' | 'socket',
    /** Whether the connection had been established. */
    readonly connected: boolean,
    readonly received: Buffer,
    /** The socket error's code ("ECONNREFUSED"), or its message when it has none. */
    readonly code = '',
  ) {
    super(reason === 'socket' ? code : reason);
    this.name = 'SocketExchangeError';
  }
}

/** Resolves with the reply when `complete` says it is whole or the peer closes. */
export function socketExchange(o: SocketExchangeOptions): Promise<Buffer> {
  const a = o.address;
  return new Promise((resolve, reject) => {
    const sock = a.kind === 'unix' ? connect({ path: a.path }) : connect({ host: a.host, port: a.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let connected = false;
    const received = () => Buffer.concat(chunks);
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(received());
    };
    const fail = (reason: SocketExchangeError['reason'], code?: string) => finish(new SocketExchangeError(reason, connected, received(), code));
    const timer = setTimeout(() => fail('timeout'), o.timeoutMs);
    sock.on('connect', () => {
      connected = true;
      o.send(sock);
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (o.maxBytes !== undefined && size > o.maxBytes) fail('too-large');
      else if (o.complete?.(received())) finish(null);
    });
    sock.on('end', () => finish(null));
    sock.on('error', (err: NodeJS.ErrnoException) => fail('socket', err.code ?? err.message));
  });
}
