// The policy of the submission listeners (587 with STARTTLS, 465 with implicit TLS),
// applied by MxServer in submission mode: SASL PLAIN/LOGIN against the gateway's
// accounts and app passwords, the sender addresses the user owns (MAIL FROM and every
// From: address), and per-user and per-client-address message limits. The limits count
// in the database (rate_limits), so both workers and every node share one count: a
// per-process count would let a user send the limit once per worker.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { SmtpReply } from '../pipeline/context.ts';
import { headerBlock } from '../pipeline/headers.ts';
import type { Settings } from '../config/settings.ts';
import type { SubmissionAuthResult, SubmissionUser } from '../services/submission-auth.ts';
import { mayUseAddress } from '../services/sender-address-service.ts';
import { smtpError } from './smtp-server-patches.ts';
import { normaliseIp } from './cidr.ts';

export interface SubmissionGateOptions {
  /** 465: the connection is TLS from the first byte (RFC 8314); 587: STARTTLS before AUTH. */
  implicitTls: boolean;
  authenticate(username: string, password: string, clientIp: string): Promise<SubmissionAuthResult>;
  settings(): Settings;
  /** Shared fixed-window counters (src/db/repos/rate-limits.ts). */
  counter: SubmissionCounter;
  log: Logger;
}

export interface SubmissionCounter {
  count(key: string, windowMs: number): Promise<number>;
  hit(key: string, windowMs: number): Promise<unknown>;
}

const HOUR = 3_600_000;

export class SubmissionGate {
  constructor(readonly o: SubmissionGateOptions) {}

  get implicitTls(): boolean {
    return this.o.implicitTls;
  }

  onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, cb: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void {
    const ip = normaliseIp(session.remoteAddress);
    const username = auth.username ?? '';
    this.o.authenticate(username, auth.password ?? '', ip).then(
      (r) => {
        if (r.ok) {
          this.o.log.info({ client: ip, user: r.user.username, via: r.user.via }, 'submission: authenticated');
          return cb(null, { user: r.user });
        }
        this.o.log.info({ client: ip, user: username, why: r.why }, 'submission: authentication failed');
        // 454 while throttled (RFC 4954: try later), 535 for wrong credentials.
        cb(r.temporary ? smtpError(454, '4.7.0', `Temporary authentication failure: ${r.message}`) : smtpError(535, '5.7.8', r.message));
      },
      (err: unknown) => {
        this.o.log.error({ err }, 'submission: authentication error');
        cb(smtpError(454, '4.7.0', 'Temporary authentication failure, try again later'));
      },
    );
  }

  /** MAIL FROM: an address the user owns, and the user and address under their limits. */
  async checkMailFrom(session: SMTPServerSession, address: string): Promise<SmtpReply | null> {
    const user = userOf(session);
    if (!user) return { code: 530, enhanced: '5.7.0', message: 'Authentication required' };
    if (!address || !mayUseAddress(user.senders, address)) {
      return { code: 553, enhanced: '5.7.1', message: `<${address}>: Sender address rejected: not owned by user ${user.username}` };
    }
    const s = this.o.settings();
    const ip = normaliseIp(session.remoteAddress);
    const userLimit = s['submission.userMessagesPerHour'];
    if (userLimit > 0 && (await this.o.counter.count(userKey(user), HOUR)) >= userLimit) {
      return { code: 450, enhanced: '4.7.1', message: `Rate limit: user ${user.username} sent ${userLimit} messages in the last hour, try again later` };
    }
    const ipLimit = s['submission.ipMessagesPerHour'];
    if (ipLimit > 0 && (await this.o.counter.count(ipKey(ip), HOUR)) >= ipLimit) {
      return { code: 450, enhanced: '4.7.1', message: `Rate limit: ${ipLimit} messages in the last hour from ${ip}, try again later` };
    }
    return null;
  }

  /** Every From: address of the message must be the user's too (553 otherwise). */
  checkFromHeader(session: SMTPServerSession, message: Buffer): SmtpReply | null {
    const user = userOf(session);
    if (!user) return { code: 530, enhanced: '5.7.0', message: 'Authentication required' };
    const from = fromAddresses(message);
    if (!from.length) return { code: 550, enhanced: '5.6.0', message: 'Message refused: it has no From: address' };
    const foreign = from.find((a) => !mayUseAddress(user.senders, a));
    return foreign ? { code: 553, enhanced: '5.7.1', message: `From: <${foreign}> rejected: not owned by user ${user.username}` } : null;
  }

  /** A message was accepted: it counts against the user's and the address's limits. */
  async accepted(session: SMTPServerSession): Promise<void> {
    const user = userOf(session);
    if (user) await this.o.counter.hit(userKey(user), HOUR);
    await this.o.counter.hit(ipKey(normaliseIp(session.remoteAddress)), HOUR);
  }
}

const userKey = (user: SubmissionUser) => `submission:user:${user.id}`;
const ipKey = (ip: string) => `submission:ip:${ip}`;

export function userOf(session: SMTPServerSession): SubmissionUser | undefined {
  return (session as unknown as { user?: SubmissionUser }).user ?? undefined;
}

function fromAddresses(message: Buffer): string[] {
  const block = headerBlock(message);
  const out: string[] = [];
  const re = /^from[ \t]*:(.*(?:\r?\n[ \t].*)*)/gim;
  for (let m = re.exec(block); m; m = re.exec(block)) {
    for (const a of addressparser(m[1]!.replace(/\r?\n[ \t]/g, ' '), { flatten: true })) out.push(a.address ?? '');
  }
  return out;
}
