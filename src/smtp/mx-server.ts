// The SMTP listener. smtp-server speaks the protocol; this file applies our policy at
// each phase (connect, MAIL, RCPT, DATA), runs the pipeline before the final reply to
// DATA and answers 250 only once the message is durable.
import { SMTPServer, type SMTPServerOptions, type SMTPServerDataStream, type SMTPServerSession, type SMTPServerAddress } from 'smtp-server';
import type { Logger } from 'pino';
import type { PolicySnapshot, PolicyStore } from './relay-policy.ts';
import { installSmtpServerPatches, smtpError } from './smtp-server-patches.ts';
import { receptionFailureReply } from './reception-errors.ts';
import { BareNewlineGuard, normalizeBareLf } from './bare-newline-guard.ts';
import { normaliseIp, NetworkSet } from './cidr.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import { finalMessage } from '../pipeline/pipeline.ts';
import type { CopyPlan, MessageContext, RecipientContext, SmtpReply } from '../pipeline/context.ts';
import { traceHeaders } from '../pipeline/headers.ts';
import type { Acceptor } from '../spool/acceptor.ts';
import { newQueueId } from '../spool/queue-id.ts';
import type { IndexWriter } from '../trace/index-writer.ts';
import type { NewEvent } from '../db/schema.ts';
import type { QuarantineSink } from '../quarantine/types.ts';
import type { ALookup } from '../pipeline/filter/dnsbl/index.ts';
import { SessionDnsblCheck } from './dnsbl-at-rcpt.ts';
import { userOf, type SubmissionGate } from './submission-gate.ts';
import type { TlsCertificates } from '../tls/sni.ts';
import type { ClientLimiter } from './client-limits.ts';
import { clientKey, type LimitVerdict } from './client-counters.ts';

export interface MxServerOptions {
  hostname: string;
  host: string;
  port: number;
  /** The certificates STARTTLS presents, chosen by SNI (tls/sni.ts). */
  certificates: TlsCertificates;
  node: number;
  /**
   * Submission mode (587/465): SMTP AUTH required, the signed-in user relays (as our
   * own networks do) from the addresses they own. Absent: the MX (no AUTH).
   */
  submission?: SubmissionGate;
  policy: PolicyStore;
  pipeline: Pipeline;
  acceptor: Acceptor;
  index: IndexWriter;
  /** Where the decide stage's held copies go (the quarantine store). */
  quarantine?: QuarantineSink | null;
  /**
   * A refusal of one recipient known at RCPT time (a block list of that recipient's
   * own), so that only that recipient is refused when a message has several.
   */
  rcptCheck?: (client: { ip: string; trusted: boolean }, mailFrom: string, rcpt: string) => Promise<SmtpReply | null>;
  /** A-record lookups for refusing a blocklisted client at its first RCPT (dnsbl.rejectZones). */
  dnsblLookup?: ALookup;
  /** Per-client connection and message limits (smtp.limits.*), shared by every worker; the MX only. */
  limits?: ClientLimiter;
  log: Logger;
}

type TraceEvent = { type: string; detail: unknown };

/** A copy of the message after the fork, with the trace events that go with it. */
interface CopyRecord {
  ctx: MessageContext;
  events: TraceEvent[];
}

interface SessionState {
  policy: PolicySnapshot;
  recipients: Map<string, RecipientContext>;
  rejectedRecipients: string[];
  /** The client's blocklist refusal, looked up once per session (at the first RCPT). */
  dnsbl?: SessionDnsblCheck;
}

const stateKey = Symbol('hermes');
/** Set once the session's connection was counted against its client's limits (until onClose). */
const countedKey = Symbol('hermes-counted');
type Session = SMTPServerSession & { [stateKey]?: SessionState; [countedKey]?: boolean };

export class MxServer {
  readonly server: SMTPServer;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(private readonly o: MxServerOptions) {
    installSmtpServerPatches();
    const settings = o.policy.cached().settings;
    const gate = o.submission;
    const logins: Partial<SMTPServerOptions> = gate
      ? {
          // 465: TLS from the first byte; 587: smtp-server refuses AUTH before STARTTLS
          // ("538 5.7.0 Must issue a STARTTLS command first") and MAIL before AUTH (530).
          secure: gate.implicitTls,
          allowInsecureAuth: false,
          authMethods: ['PLAIN', 'LOGIN'],
          authOptional: false,
          authRequiredMessage: '5.7.0 Authentication required',
          onAuth: (auth, session, cb) => gate.onAuth(auth, session, cb),
        }
      : {
          // The MX port takes no logins; submission with SASL is a separate listener.
          disabledCommands: ['AUTH'],
          authOptional: true,
        };
    this.server = new SMTPServer({
      name: o.hostname,
      banner: gate ? 'Hermes SEG submission' : 'Hermes SEG',
      ...o.certificates.serverOptions(),
      size: settings['smtp.maxMessageSize'],
      maxClients: settings['smtp.maxClients'],
      socketTimeout: settings['smtp.idleTimeoutSec'] * 1000,
      closeTimeout: 30_000,
      ...logins,
      // Reverse lookups go through our own resolver later, never through a blocking default.
      disableReverseLookup: true,
      hideDSN: true,
      hideENHANCEDSTATUSCODES: false,
      logger: false,
      // Early-talker detection for clients outside our own networks (0 = none).
      greetPause: (ip: string) => (gate || o.policy.cached().isRelayClient(normaliseIp(ip)) ? 0 : o.policy.cached().settings['smtp.greetPauseMs']),
      onConnect: (session, cb) => this.#onConnect(session as Session, cb),
      onMailFrom: (address, session, cb) => this.#onMailFrom(address, session as Session, cb),
      onRcptTo: (address, session, cb) => this.#onRcptTo(address, session as Session, cb),
      onData: (stream, session, cb) => this.#onData(stream, session as Session, cb),
      onClose: (session) => this.#onClose(session as Session),
    } as SMTPServerOptions & { greetPause: (ip: string) => number });
    this.server.on('error', (err) => o.log.warn({ err }, 'smtp server error'));
    // Clients that send no SNI get the default certificate: keep it current too.
    o.certificates.attachSmtpServer(this.server);
    // Settings edited at run time apply to the next connection.
    o.policy.onChange((snap) => {
      const s = snap.settings;
      Object.assign(this.server.options, {
        size: s['smtp.maxMessageSize'],
        maxClients: s['smtp.maxClients'],
        socketTimeout: s['smtp.idleTimeoutSec'] * 1000,
      });
    });
  }

  listen(): Promise<void> {
    // Replies are small writes the client waits for; Nagle's algorithm only delays them.
    (this.server as unknown as { server: import('node:net').Server }).server.on('connection', (socket) => socket.setNoDelay(true));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Submission over implicit TLS (465). */
  get implicitTls(): boolean {
    return this.o.submission?.implicitTls ?? false;
  }

  get listening(): boolean {
    return (this.server as unknown as { server: import('node:net').Server }).server.listening;
  }

  get address(): { port: number } {
    const a = (this.server as unknown as { server: import('node:net').Server }).server.address();
    return { port: typeof a === 'object' && a ? a.port : this.o.port };
  }

  /** Stops accepting connections; sessions in DATA may finish until the deadline. */
  async close(deadlineMs: number): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    const idle = this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => this.#idleWaiters.push(r));
    await Promise.race([Promise.all([closed, idle]), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
  }

  #state(session: Session): SessionState {
    let st = session[stateKey];
    if (!st) {
      st = { policy: this.o.policy.cached(), recipients: new Map(), rejectedRecipients: [] };
      session[stateKey] = st;
    }
    return st;
  }

  #onConnect(session: Session, cb: (err?: Error | null) => void): void {
    this.o.policy.current().then(
      async (policy) => {
        session[stateKey] = { policy, recipients: new Map(), rejectedRecipients: [] };
        const ip = normaliseIp(session.remoteAddress);
        const limits = this.o.limits;
        // Our own networks are never limited: they are one client with many senders.
        if (!limits || policy.isRelayClient(ip)) return cb();
        const s = policy.settings;
        const concurrent = s['smtp.limits.connectionsPerClient'];
        const perMinute = s['smtp.limits.connectionsPerMinute'];
        if (!concurrent && !perMinute) return cb();
        // Counted from the question on: a disconnect sent after it always follows it.
        session[countedKey] = true;
        const verdict = await limits.connect(session.id, clientKey(ip), { concurrent, perMinute }).catch((err: unknown) => {
          this.o.log.warn({ err }, 'client-limit check failed; letting the client through');
          return { ok: true } as const;
        });
        if (verdict.ok) return cb();
        cb(this.#limitRefusal(ip, verdict, 421, '4.7.0', 'Error: too many connections from'));
      },
      (err: unknown) => {
        this.o.log.error({ err }, 'cannot load relay policy');
        cb(smtpError(421, '4.3.0', 'Service temporarily unavailable, try again later'));
      },
    );
  }

  #onClose(session: Session): void {
    if (!session[countedKey]) return;
    session[countedKey] = false;
    this.o.limits?.disconnect(session.id);
  }

  /** The reply to a client over one of its limits, logged (connections are not messages, so no trace record). */
  #limitRefusal(ip: string, verdict: Exclude<LimitVerdict, { ok: true }>, code: number, enhanced: string, text: string): Error {
    this.o.log.info({ client: ip, clientKey: clientKey(ip), limit: verdict.limit, max: verdict.max, reply: code }, 'client over its limit');
    return smtpError(code, enhanced, `${text} ${ip} (${verdict.limit} limit ${verdict.max}), try again later`);
  }

  /** Our own client: in the relay networks, or (submission) signed in. */
  #trusted(session: Session, st: SessionState, ip: string): boolean {
    return this.o.submission ? !!userOf(session) : st.policy.isRelayClient(ip);
  }

  #onMailFrom(address: SMTPServerAddress, session: Session, cb: (err?: Error | null) => void): void {
    const st = this.#state(session);
    st.recipients = new Map();
    st.rejectedRecipients = [];
    if (address.address.length > 320) return cb(smtpError(553, '5.1.7', 'Sender address too long'));
    const refusal = this.o.submission ? this.o.submission.checkMailFrom(session, address.address) : Promise.resolve(this.#tlsRequiredRefusal(session, st, address.address));
    refusal.then(
      (r) => {
        if (r) {
          this.o.log.info({ client: normaliseIp(session.remoteAddress), from: address.address, reply: r.code, why: r.message }, 'sender refused');
          return cb(smtpError(r.code, r.enhanced, r.message));
        }
        this.#messageRate(session, st, cb);
      },
      (err: unknown) => {
        // The shared counters could not be read (database busy or down): a temporary answer.
        this.o.log.error({ err }, 'cannot check the sender');
        cb(smtpError(451, '4.3.0', 'Temporary failure checking the sender, try again later'));
      },
    );
  }

  /** smtp.limits.messagesPerHour, counted at MAIL as Postfix's smtpd_client_message_rate_limit: 450, the client may come back. */
  #messageRate(session: Session, st: SessionState, cb: (err?: Error | null) => void): void {
    const ip = normaliseIp(session.remoteAddress);
    const perHour = st.policy.settings['smtp.limits.messagesPerHour'];
    if (!this.o.limits || !perHour || this.#trusted(session, st, ip)) return cb();
    this.o.limits.message(clientKey(ip), perHour).then(
      (verdict) => cb(verdict.ok ? null : this.#limitRefusal(ip, verdict, 450, '4.7.1', 'Error: too much mail from')),
      () => cb(),
    );
  }

  /** Partners that must use TLS (smtp.requireTlsFrom): 530 5.7.0 while the session is plain text. */
  #tlsRequiredRefusal(session: Session, st: SessionState, mailFrom: string): SmtpReply | null {
    if (session.secure) return null;
    const rule = st.policy.settings['smtp.requireTlsFrom'];
    if (!rule.domains.length && !rule.networks.length) return null;
    const ip = normaliseIp(session.remoteAddress);
    const domain = mailFrom.slice(mailFrom.lastIndexOf('@') + 1).toLowerCase();
    const byDomain = !!domain && mailFrom.includes('@') && rule.domains.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`));
    const byNetwork = rule.networks.length > 0 && requireTlsNetworks(rule.networks).contains(ip);
    if (!byDomain && !byNetwork) return null;
    return { code: 530, enhanced: '5.7.0', message: `Must issue a STARTTLS command first: mail ${byDomain ? `from ${domain}` : `from ${ip}`} must be sent over TLS` };
  }

  #onRcptTo(address: SMTPServerAddress, session: Session, cb: (err?: Error | null) => void): void {
    const st = this.#state(session);
    const ip = normaliseIp(session.remoteAddress);
    const trusted = this.#trusted(session, st, ip);
    const d = st.policy.decideRecipient(ip, address.address, trusted);
    if (!d.ok) {
      st.rejectedRecipients.push(address.address);
      this.o.log.info({ client: ip, rcpt: address.address, reply: d.code }, 'recipient rejected');
      return cb(smtpError(d.code, d.enhanced, d.message));
    }
    const max = st.policy.settings['smtp.maxRecipients'];
    if (st.recipients.size >= max) return cb(smtpError(452, '4.5.3', 'Too many recipients'));
    const accept = () => {
      st.recipients.set(address.address.toLowerCase(), { address: address.address, route: d.route, requireTls: d.requireTls });
      cb();
    };
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const refuse = (reply: SmtpReply, why: string) => {
      st.rejectedRecipients.push(address.address);
      this.o.log.info({ client: ip, from: mailFrom, rcpt: address.address, reply: reply.code, why: reply.message }, why);
      cb(smtpError(reply.code, reply.enhanced, reply.message));
    };
    const recipientCheck = () => {
      if (!this.o.rcptCheck) return accept();
      this.o.rcptCheck({ ip, trusted }, mailFrom, address.address).then(
        (reply) => (reply ? refuse(reply, 'recipient refused by its block list') : accept()),
        (err: unknown) => {
          // The lists could not be read: decide at DATA instead, where a failure is visible.
          this.o.log.warn({ err }, 'recipient list check failed');
          accept();
        },
      );
    };
    // A client in a reject zone is refused at its first RCPT, before it sends the message;
    // when the zone does not answer now, the DATA stage asks again.
    if (trusted || !this.o.dnsblLookup) return recipientCheck();
    st.dnsbl ??= new SessionDnsblCheck(ip, this.o.dnsblLookup);
    st.dnsbl.refusal(st.policy.settings).then(
      (reply) => (reply ? refuse(reply, 'client refused: listed in a DNS blocklist') : recipientCheck()),
      () => recipientCheck(),
    );
  }

  #onData(stream: SMTPServerDataStream, session: Session, cb: (err?: Error | null, message?: string) => void): void {
    const st = this.#state(session);
    const chunks: Buffer[] = [];
    let size = 0;
    const guard = new BareNewlineGuard();
    this.#inFlight++;
    stream.on('data', (chunk: Buffer) => {
      if (stream.sizeExceeded) return; // keep reading to the end, keep nothing
      guard.push(chunk);
      chunks.push(chunk);
      size += chunk.length;
    });
    stream.once('end', () => {
      this.#handleMessage(session, st, stream, Buffer.concat(chunks, size), guard).then(
        (reply) => cb(null, reply),
        (err: Error) => cb(receptionFailureReply(err, this.o.acceptor.storageLow, this.o.log)),
      ).finally(() => {
        if (--this.#inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w();
      });
    });
  }

  async #handleMessage(session: Session, st: SessionState, stream: SMTPServerDataStream, received: Buffer, guard: BareNewlineGuard): Promise<string> {
    const id = newQueueId();
    guard.finish();
    // Bare LF lines are taken as CRLF lines (smtp.bareLf=normalize) before anything reads
    // the message; a bare CR, or a bare LF with smtp.bareLf=reject, refuses it below.
    let newline = guard.violation;
    let raw = received;
    if (newline?.kind === 'bare-lf' && st.policy.settings['smtp.bareLf'] === 'normalize' && !stream.sizeExceeded) {
      raw = normalizeBareLf(received);
      const again = new BareNewlineGuard();
      again.push(raw);
      again.finish();
      newline = again.violation;
    }
    const ip = normaliseIp(session.remoteAddress);
    const log = this.o.log.child({ queueId: id });
    const user = userOf(session);
    const client = {
      ip,
      helo: session.hostNameAppearsAs || null,
      ptr: null,
      tls: session.secure ? tlsDescription(session) : null,
      trusted: this.#trusted(session, st, ip),
      ...(user ? { authenticatedUser: user.username } : {}),
    };
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const recipients = [...st.recipients.values()];
    const events: Array<{ type: string; detail: unknown }> = [];
    const ctx: MessageContext = {
      id,
      receivedAt: new Date(),
      client,
      direction: client.trusted ? 'outbound' : 'inbound',
      mailFrom,
      recipients,
      original: raw,
      prepend: [],
      body: raw,
      reject: null,
      findings: {},
      log,
      trace: (type, detail) => events.push({ type, detail }),
    };
    ctx.trace('received', {
      client: ip,
      helo: client.helo,
      tls: client.tls,
      ...(session.secure ? { tlsVersion: tlsInfo(session)?.version ?? null, cipher: tlsInfo(session)?.name ?? null } : {}),
      ...(user ? { authenticatedUser: user.username, authenticatedWith: user.via } : {}),
      size: raw.length,
      from: mailFrom,
      recipients: recipients.map((r) => r.address),
      ...(st.rejectedRecipients.length ? { rejectedRecipients: st.rejectedRecipients } : {}),
    });

    if (stream.sizeExceeded) {
      // smtp-server answers 552 itself; we only keep the trace entry.
      ctx.reject = { code: 552, enhanced: '5.3.4', message: 'Message size exceeds fixed limit' };
    } else {
      const v = newline;
      if (v) {
        ctx.reject = {
          code: 550,
          enhanced: '5.5.2',
          message: `Error: bare ${v.kind === 'bare-lf' ? '<LF>' : '<CR>'} received (line endings must be CRLF)`,
        };
      } else if (raw !== received) ctx.trace('bare-lf', { action: 'normalized', firstAt: guard.violation?.offset });
    }
    // A signed-in user sends as themselves only, in the header as in the envelope.
    if (!ctx.reject && this.o.submission) {
      const refusal = this.o.submission.checkFromHeader(session, raw);
      if (refusal) {
        ctx.reject = refusal;
        ctx.trace('rejected', { reply: refusal, reason: 'From: header not owned by the signed-in user', user: user?.username ?? null });
      }
    }
    // Below the spool's free-space reserve: 452 before any work (stuck-mail, issue 11).
    if (!ctx.reject) await this.o.acceptor.ensureSpace(raw.length);
    let copies: CopyRecord[] = [];
    if (!ctx.reject) {
      // Copies for delivery after the first get their own queue id and trace; the first,
      // and copies to hold (never spooled), stay under the message's id and trace.
      const makeCopy = (parent: MessageContext, plan: CopyPlan): MessageContext => {
        const own = !plan.hold && copies.some((c) => !c.ctx.hold);
        const copyEvents: TraceEvent[] = own ? [] : events;
        const copyId = own ? newQueueId() : id;
        const copy: MessageContext = {
          ...parent,
          id: copyId,
          recipients: plan.recipients,
          prepend: [...parent.prepend],
          copies: undefined,
          hold: plan.hold ?? undefined,
          parentId: own ? id : undefined,
          log: own ? log.child({ copyOf: id, queueId: copyId }) : log,
          trace: (type, detail) => copyEvents.push({ type, detail }),
        };
        if (own) {
          // Both traces point at each other: the message lists its copies, a copy its message.
          events.push({ type: 'copy', detail: { queueId: copyId, copy: plan.label, recipients: plan.recipients.map((r) => r.address) } });
          copy.trace('split', { parent: id, copy: plan.label, recipients: plan.recipients.map((r) => r.address) });
        }
        plan.apply(copy);
        copies.push({ ctx: copy, events: copyEvents });
        return copy;
      };
      const final = await this.o.pipeline.run(ctx, makeCopy);
      // Not forked (no decide stage, or mail it does not judge): the message is its own
      // only copy. A copy the encrypt stage split in parts is replaced by the parts.
      if (final.includes(ctx)) copies.push({ ctx, events });
      copies = copies.filter((c) => final.includes(c.ctx));
    }
    if (ctx.reject) {
      log.info({ client: ip, reply: ctx.reject }, 'message rejected');
      this.#recordRejected(ctx, events);
      throw smtpError(ctx.reject.code, ctx.reject.enhanced, ctx.reject.message);
    }

    // Held copies first: the quarantine store keeps them durably before the reply.
    for (const c of copies) {
      if (!c.ctx.hold) continue;
      const sink = this.o.quarantine;
      if (!sink) throw smtpError(451, '4.3.0', 'Temporary failure: quarantine not available, try again later');
      try {
        const qid = await sink.hold({
          messageId: id,
          receivedAt: ctx.receivedAt,
          mailFrom,
          recipients: c.ctx.recipients.map((r) => r.address),
          ...c.ctx.hold,
          message: finalMessage(c.ctx),
          direction: ctx.direction,
        });
        events.push({ type: 'quarantined', detail: { quarantineId: qid, recipients: c.ctx.recipients.map((r) => r.address), category: c.ctx.hold.category, reason: c.ctx.hold.reason } });
      } catch (err) {
        log.error({ err }, 'cannot hold message in quarantine');
        throw smtpError(451, '4.3.0', 'Temporary failure storing the message, try again later');
      }
    }

    const { subject, messageId } = traceHeaders(raw);
    const now = Date.now();
    const toRows = (msgId: string, evs: TraceEvent[]): NewEvent[] => evs.map((e) => eventRow(msgId, now, e));
    const spooled = copies.filter((c) => !c.ctx.hold && c.ctx.recipients.length);
    for (const c of spooled) {
      await this.o.acceptor.accept(
        {
          id: c.ctx.id,
          receivedAt: ctx.receivedAt.getTime(),
          node: this.o.node,
          direction: ctx.direction,
          mailFrom,
          recipients: c.ctx.recipients,
          clientIp: ip,
          clientHelo: client.helo,
          clientPtr: client.ptr,
          tls: client.tls,
          messageId,
          subject,
          parentId: c.ctx.parentId ?? null,
        },
        finalMessage(c.ctx),
        toRows(c.ctx.id, c.events),
      );
    }
    if (!spooled.some((c) => c.ctx.id === id)) {
      // Every recipient's copy was held or discarded: the message still gets its record.
      await this.o.index.insertMessage(
        {
          id, received_at: ctx.receivedAt.getTime(), node: this.o.node, direction: ctx.direction, client_ip: ip, client_helo: client.helo,
          client_ptr: client.ptr, tls: client.tls, mail_from: mailFrom, size: raw.length, message_id: messageId, subject,
          spool_file: '', state: 'done', parent_id: null, done_at: now,
        },
        [],
        toRows(id, events),
      );
    }
    // Counted after the message is durable; a failure to count never fails the accepted message.
    this.o.submission?.accepted(session).catch((err: unknown) => log.warn({ err }, 'submission: cannot count the message against the rate limits'));
    log.info({ from: mailFrom, rcpts: recipients.length, size: raw.length, copies: spooled.length, held: copies.length - spooled.length }, 'queued');
    return `Ok: queued as ${id}`;
  }

  /** A refused message still gets a trace record, so an admin can see why. */
  #recordRejected(ctx: MessageContext, events: Array<{ type: string; detail: unknown }>): void {
    const now = Date.now();
    const { subject, messageId } = ctx.reject?.code === 552 ? { subject: null, messageId: null } : traceHeaders(ctx.original);
    void this.o.index
      .insertMessage(
        {
          id: ctx.id,
          received_at: ctx.receivedAt.getTime(),
          node: this.o.node,
          direction: ctx.direction,
          client_ip: ctx.client.ip,
          client_helo: ctx.client.helo,
          client_ptr: ctx.client.ptr,
          tls: ctx.client.tls,
          mail_from: ctx.mailFrom,
          size: ctx.original.length,
          message_id: messageId,
          subject,
          spool_file: '',
          state: 'rejected',
          parent_id: null,
          done_at: now,
        },
        [],
        [
          ...events.map((e) => eventRow(ctx.id, now, e)),
          ...(events.some((e) => e.type === 'rejected')
            ? []
            : [{ message_id: ctx.id, at: now, type: 'rejected', recipient: null, detail: JSON.stringify({ reply: ctx.reject }) }]),
        ],
      )
      .catch((err: unknown) => ctx.log.error({ err }, 'cannot record rejected message'));
  }
}

/** A trace event as an index row; an event about one recipient says so in its recipient column. */
function eventRow(messageId: string, at: number, e: TraceEvent): NewEvent {
  const r = (e.detail as { recipient?: unknown } | null)?.recipient;
  return { message_id: messageId, at, type: e.type, recipient: typeof r === 'string' ? r : null, detail: JSON.stringify(e.detail ?? null) };
}

function tlsInfo(session: SMTPServerSession): { version?: string; name?: string } | null {
  return (session as unknown as { tlsOptions?: { version?: string; name?: string } | false }).tlsOptions || null;
}

/** e.g. "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" (the trace, and the Received header's "using"). */
function tlsDescription(session: SMTPServerSession): string {
  const t = tlsInfo(session);
  return t ? `${t.version ?? 'TLS'}${t.name ? ` with cipher ${t.name}` : ''}` : 'TLS';
}

const requireTlsSets = new WeakMap<readonly string[], NetworkSet>();
/** The NetworkSet of smtp.requireTlsFrom.networks, built once per settings snapshot. */
function requireTlsNetworks(networks: readonly string[]): NetworkSet {
  let set = requireTlsSets.get(networks);
  if (!set) {
    set = new NetworkSet([...networks]);
    requireTlsSets.set(networks, set);
  }
  return set;
}
