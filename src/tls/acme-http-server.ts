// The port-80 listener for ACME http-01: answers /.well-known/acme-challenge/<token>
// from the database (any worker, any process that started the order) and nothing else.
// Plain HTTP by design (RFC 8555 §8.3); it serves no other content.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import { findAcmeChallenge } from '../db/repos/certificates.ts';

const PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export interface AcmeHttpServer {
  port: number;
  close(): Promise<void>;
}

export async function startAcmeHttpServer(o: { db: Db; host: string; port: number; log: Logger }): Promise<AcmeHttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0]!;
    const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : '';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !TOKEN.test(token)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    findAcmeChallenge(o.db, token).then(
      (answer) => {
        if (answer === null) {
          o.log.warn({ token, client: req.socket.remoteAddress }, 'ACME challenge asked for an unknown token');
          res.writeHead(404, { 'content-type': 'text/plain' }).end('no such challenge\n');
          return;
        }
        o.log.info({ token, client: req.socket.remoteAddress }, 'ACME http-01 challenge answered');
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(req.method === 'HEAD' ? undefined : answer);
      },
      (err: unknown) => {
        o.log.error({ err }, 'ACME challenge lookup failed');
        res.writeHead(503).end();
      },
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
