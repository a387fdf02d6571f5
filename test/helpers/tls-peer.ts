// Receiving SMTP servers with TLS for outbound tests: nodemailer's smtp-server with a
// chosen certificate (from test/helpers/test-ca.ts), STARTTLS offered or not, implicit
// TLS, and AUTH required with one user. Each records what it was sent and how.
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface PeerMessage {
  from: string;
  to: string[];
  raw: string;
  secure: boolean;
  /** The user that logged in, when AUTH was used. */
  user: string | null;
}

export interface TlsPeer {
  host: string;
  port: number;
  messages: PeerMessage[];
  /** Logins tried, with the outcome. */
  logins: Array<{ user: string; ok: boolean; secure: boolean }>;
  close(): Promise<void>;
}

export interface TlsPeerOptions {
  host: string;
  port: number;
  /** PEM key and certificate (with its chain); none: no STARTTLS offered. */
  key?: string;
  cert?: string;
  /** TLS from the first byte (port 465 style). */
  implicitTls?: boolean;
  /** Refuse mail without AUTH as this user. */
  auth?: { user: string; pass: string };
}

export async function startTlsPeer(o: TlsPeerOptions): Promise<TlsPeer> {
  const messages: PeerMessage[] = [];
  const logins: TlsPeer['logins'] = [];
  const disabled = [...(o.cert ? [] : ['STARTTLS']), ...(o.auth ? [] : ['AUTH'])];
  const server = new SMTPServer({
    secure: !!o.implicitTls,
    ...(o.cert ? { key: o.key, cert: o.cert } : {}),
    disabledCommands: disabled,
    authOptional: !o.auth,
    // AUTH only after TLS, as a real submission server does.
    allowInsecureAuth: false,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, session, cb) {
      const ok = !!o.auth && auth.username === o.auth.user && auth.password === o.auth.pass;
      logins.push({ user: auth.username ?? '', ok, secure: !!session.secure });
      if (!ok) return cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      cb(null, { user: auth.username });
    },
    onMailFrom(_addr, session, cb) {
      if (o.auth && !session.user) return cb(Object.assign(new Error('Authentication required'), { responseCode: 530 }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: !!session.secure,
          user: (session.user as string | undefined) ?? null,
        });
        cb(null, 'Ok: queued by the test peer');
      });
    },
  } as SMTPServerOptions);
  server.on('error', () => {}); // a client that drops the handshake is not a test failure
  await new Promise<void>((resolve, reject) => {
    (server as unknown as { server: import('node:net').Server }).server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    host: o.host,
    port: o.port,
    messages,
    logins,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
