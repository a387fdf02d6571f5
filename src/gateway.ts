// Assembles the running gateway from its parts: database, policy, DNS, spool, index,
// pipeline, SMTP listener and delivery. Start order matters: the spool is reconciled
// with the index before anything is delivered or accepted.
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/bootstrap.ts';
import { openDatabase, type Db } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { DnsResolver } from './dns/resolver.ts';
import { PolicyStore } from './smtp/relay-policy.ts';
import { MxServer } from './smtp/mx-server.ts';
import { clientLimiter } from './smtp/client-limits.ts';
import { Pipeline } from './pipeline/pipeline.ts';
import { receivedHeaderStage } from './pipeline/received-header.ts';
import { verifyStage } from './pipeline/verify/verify-stage.ts';
import { modifyStage } from './pipeline/modify/modify-stage.ts';
import { BodyConfigStore } from './pipeline/modify/body-config.ts';
import { listsStage } from './pipeline/decide/lists-stage.ts';
import { authNeedsDecide, onlyWhen, unlessAllowAll } from './pipeline/decide/stage-guards.ts';
import { decideStage } from './pipeline/decide/decide-stage.ts';
import { FilterConfigStore } from './pipeline/decide/filter-config.ts';
import { spamStage } from './pipeline/filter/spam-stage.ts';
import { hamLearner } from './quarantine/ham-learner.ts';
import { malwareStage } from './pipeline/filter/malware/stage.ts';
import { attachmentStage } from './pipeline/filter/attachments/stage.ts';
import { FileRuleSetStore } from './pipeline/filter/attachments/rule-set-store.ts';
import { dnsListCheck, dnsblRejectStage } from './pipeline/filter/dnsbl/index.ts';
import { externalChecks, externalTempfailStage } from './pipeline/filter/external/index.ts';
import { rulesStage } from './pipeline/filter/rules/stage.ts';
import { RuleStore } from './pipeline/filter/rules/rule-store.ts';
import { SqlBayesStore } from './db/repos/bayes-store.ts';
import { openQuarantine, type OpenedQuarantine } from './quarantine/open-quarantine.ts';
import { startQuarantinePurge } from './quarantine/purge-timer.ts';
import { startTraceRetention } from './ops/retention-timer.ts';
import { GatewayMetrics } from './ops/metrics/gateway-metrics.ts';
import type { MessageContext, Stage } from './pipeline/context.ts';
import { dkimSignStage } from './pipeline/sign/sign-stage.ts';
import { encryptStage } from './pipeline/encrypt/encrypt-stage.ts';
import { sideMailSender } from './pipeline/encrypt/side-mail.ts';
import type { EncryptionMethod } from './pipeline/encrypt/method.ts';
import { SmimeKeyring } from './pipeline/encrypt/smime-keyring.ts';
import { smimeMethod } from './pipeline/encrypt/smime-method.ts';
import { smimeInboundStage } from './pipeline/encrypt/smime-inbound-stage.ts';
import { pgpMethod } from './pipeline/encrypt/pgp-method.ts';
import { PgpKeyStore } from './pipeline/encrypt/pgp-key-store.ts';
import { PgpKeyGenerator } from './pipeline/encrypt/pgp-key-generator.ts';
import { lookupWkd, resolverLookup } from './pipeline/encrypt/pgp-wkd.ts';
import { pgpDecryptor, pgpInboundStage } from './pipeline/encrypt/pgp-inbound.ts';
import { pdfMethod } from './pipeline/encrypt/pdf-method.ts';
import { decryptStage, type InboundDecryptor } from './pipeline/encrypt/decrypt-stage.ts';
import { arcSealStage } from './pipeline/sign/seal-stage.ts';
import { SigningKeyStore } from './pipeline/sign/key-store.ts';
import { signOwnMessage } from './pipeline/sign/sign-own.ts';
import type { Spool } from './spool/spool-file.ts';
import { openSpool } from './spool/open-spool.ts';
import { startNodeHeartbeat } from './ops/node-heartbeat.ts';
import { Acceptor } from './spool/acceptor.ts';
import { recoverSpool } from './spool/recovery.ts';
import { SpoolSpace } from './spool/free-space.ts';
import { IndexWriter } from './trace/index-writer.ts';
import { SmtpClientPool } from './delivery/smtp-client.ts';
import { DeliveryScheduler } from './delivery/scheduler.ts';
import { TransportSecurity } from './delivery/transport-security.ts';
import { startHttpServer, type RunningHttpServer } from './http/server.ts';
import { loadMasterKey, type MasterKey } from './keys/master-key.ts';
import { SubmissionGate } from './smtp/submission-gate.ts';
import { authenticateSubmission } from './services/submission-auth.ts';
import type { NotifyContext } from './notify/context.ts';
import { openNotifier } from './notify/open-notifier.ts';
import { startNotificationTimers } from './notify/timers.ts';
import { TlsCertificates } from './tls/sni.ts';
import { storeSource } from './tls/store-source.ts';
import { startAcmeHttpServer, type AcmeHttpServer } from './tls/acme-http-server.ts';
import { startCertificateRenewal } from './tls/renewal-timer.ts';
import { trustAcmeCa } from './tls/acme.ts';
import { hitRateLimit, rateLimitCount } from './db/repos/rate-limits.ts';

/** The version recorded with each node's heartbeat. */
const GATEWAY_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface GatewayOptions {
  config: LoadedConfig;
  log: Logger;
  /** Which worker this is (0-based): it owns the spool and deliveries of its node number. */
  node?: number;
  /** How many workers share the listener; worker i also adopts nodes j with j % workers == i. */
  workers?: number;
  pollIntervalMs?: number;
}

export class Gateway {
  readonly db: Db;
  readonly policy: PolicyStore;
  readonly spool: Spool;
  readonly index: IndexWriter;
  readonly scheduler: DeliveryScheduler;
  readonly mx: MxServer;
  /** The submission listeners (587 STARTTLS, 465 implicit TLS), as configured. */
  readonly submission: MxServer[] = [];
  readonly quarantine: OpenedQuarantine;
  /** Prometheus metrics of this worker (served at /metrics). */
  readonly metrics: GatewayMetrics;
  /** The stage list (read by bench/pipeline.ts, which times each stage). */
  readonly pipeline: Pipeline;
  /** This worker's name in the cluster: it holds its queue leases under it. */
  readonly nodeName: string;
  #heartbeat: { stop(): void } | null = null;
  /** Digests, held-message notices, admin notifications: mail the gateway writes itself. */
  readonly notifier: NotifyContext;
  #notifyTimers: { stop(): void } | null = null;
  #purge: { stop(): void } | null = null;
  #traceRetention: { stop(): void } | null = null;
  #http: RunningHttpServer | null = null;
  #acmeHttp: AcmeHttpServer | null = null;
  #renewal: { stop(): void } | null = null;
  #masterKey: MasterKey | null = null;
  readonly #pool: SmtpClientPool;
  readonly #indexDb: Db;
  readonly #log: Logger;
  readonly #config: LoadedConfig;
  readonly #node: number;
  readonly #workers: number;

  /** The certificates every TLS listener of this process presents (by SNI, from the store). */
  readonly certificates: TlsCertificates;

  private constructor(o: GatewayOptions, policy: PolicyStore, db: Db, certificates: TlsCertificates) {
    const { config, log } = o;
    const node = o.node ?? 0;
    this.#log = log;
    this.#config = config;
    this.db = db;
    this.policy = policy;
    this.certificates = certificates;
    const settings = policy.cached().settings;
    const dns = new DnsResolver({ servers: config.dnsServers.length ? config.dnsServers : undefined });
    this.#node = node;
    this.#workers = o.workers ?? 1;
    this.nodeName = `${config.nodeName ?? osHostname()}/${node}`;
    this.spool = openSpool(config, db, node);
    // The index writer has a connection of its own without a busy timeout (it retries on
    // a timer); see IndexWriter.
    this.#indexDb = openDatabase(config.storage.database, { synchronous: 'NORMAL', busyTimeoutMs: 0 });
    this.metrics = new GatewayMetrics({ db, certFile: config.tls.cert, node });
    this.index = new IndexWriter(this.#indexDb, log, { observer: this.metrics });
    const space = new SpoolSpace(config.storage.spool, () => policy.cached().settings['spool.minFreeBytes'], log);
    const acceptor = new Acceptor(this.spool, this.index, log, space);
    // The stage list, in this order: verify on the bytes as received; the early refusals
    // (DNS blocklists, block lists); the scanners, which only record findings; decide,
    // which turns them into each recipient's fate and may fork the message into copies;
    // then per copy: modify, DKIM-sign, ARC-seal, each over that copy's final bytes.
    const currentSettings = () => policy.cached().settings;
    const serial = () => policy.cached().serial;
    const keys = new SigningKeyStore({ db, masterKeyFile: config.masterKeyFile, serial });
    const filterConfig = new FilterConfigStore(db, serial);
    const bayesStore = new SqlBayesStore(db);
    const fileRules = new FileRuleSetStore({ db, serial });
    this.quarantine = openQuarantine({
      db,
      config,
      acceptor: { acceptor, node },
      policy,
      learnHam: hamLearner(bayesStore),
    });
    // The policies of a message's recipients (outbound: of its sender) name the file rule sets to judge it by.
    const ruleSetNames = async (ctx: MessageContext) => {
      const cfg = await filterConfig.get();
      const who = ctx.client.trusted ? [ctx.mailFrom || 'postmaster@invalid'] : ctx.recipients.map((r) => r.address);
      return [...new Set(who.map((a) => cfg.policies.resolve(a).policy.fileRules ?? 'default'))];
    };
    const spamSkip = async (ctx: MessageContext) => {
      if (ctx.client.trusted) return null;
      const cfg = await filterConfig.get();
      const reasons = ctx.recipients.map((r) => ctx.lists?.recipients.get(r.address.toLowerCase())?.skipSpam ?? (cfg.policies.resolve(r.address).policy.spamChecks ? null : 'policy'));
      return reasons.every((x) => x) ? `no recipient wants spam checks (${[...new Set(reasons)].join('; ')})` : null;
    };
    const timed = (stage: Stage) => this.metrics.timed(stage);
    // The encryption methods, tried in FALLBACK_ORDER (S/MIME, PGP, PDF) by the encrypt stage.
    const smimeKeys = new SmimeKeyring({ db, masterKey: () => (this.#masterKey ??= loadMasterKey(config.masterKeyFile)), serial, hostname: config.hostname, log });
    const isInternal = (address: string) => policy.cached().domains.has(address.slice(address.lastIndexOf('@') + 1).toLowerCase());
    const pgpKeys = new PgpKeyStore({ db, masterKey: () => (this.#masterKey ??= loadMasterKey(config.masterKeyFile)), serial });
    const pgpKeyGenerator = new PgpKeyGenerator(pgpKeys, log);
    const encryptionMethods: EncryptionMethod[] = [
      smimeMethod({ keyring: smimeKeys, settings: currentSettings, isInternal }),
      pgpMethod({ keys: pgpKeys, generator: pgpKeyGenerator, settings: currentSettings, isInternal, wkd: (a) => lookupWkd(a, { lookup: resolverLookup(dns.a), timeoutMs: 3000 }) }),
      pdfMethod({ hostname: config.hostname }),
    ];
    // Inbound decryption before the filters, one decryptor per format (decrypt-stage.ts).
    const inboundDecryptors: InboundDecryptor[] = [pgpDecryptor(pgpKeys)];
    const pipeline = (this.pipeline = new Pipeline(
      [
        verifyStage({ authservId: config.hostname, resolver: dns.resolve, settings: currentSettings }),
        receivedHeaderStage(config.hostname),
        // Decrypted before the filters, so they judge the content (docs/encryption.md).
        smimeInboundStage({ keyring: smimeKeys, settings: currentSettings }),
        dnsblRejectStage({ lookup: (n) => dns.a(n), settings: currentSettings }),
        pgpInboundStage({ keys: pgpKeys, settings: currentSettings }),
        decryptStage({ decryptors: () => inboundDecryptors, settings: currentSettings, isInternal }),
        ...[
          listsStage({ config: () => filterConfig.get() }),
          unlessAllowAll(malwareStage({ settings: currentSettings })),
          unlessAllowAll(attachmentStage({ ruleSets: fileRules.lookup, ruleSetNames })),
          spamStage({
            settings: currentSettings,
            bayesStore,
            localDomains: () => [...policy.cached().domains.keys()],
            extraChecks: [
              dnsListCheck({ lookup: (n) => dns.a(n), settings: currentSettings }),
              // spamd and Rspamd, idle while external.spamd / external.rspamd are null
              ...externalChecks({ settings: currentSettings, hostname: config.hostname }),
            ],
            skip: spamSkip,
          }),
          externalTempfailStage(),
          unlessAllowAll(rulesStage({ store: new RuleStore(db, serial) })),
        ].map((stage) => onlyWhen(() => currentSettings()['filter.enabled'], stage)),
        onlyWhen(
          (ctx) => currentSettings()['filter.enabled'] || authNeedsDecide(ctx),
          decideStage({
            config: () => filterConfig.get(),
            settings: currentSettings,
            canHold: () => true,
            routeFor: (a) => policy.cached().routeFor(a),
          }),
        ),
      ].map(timed),
      [
        modifyStage({ config: new BodyConfigStore(db, serial), relayDomains: () => policy.cached().domains }),
        encryptStage({
          methods: () => encryptionMethods,
          settings: currentSettings,
          sendSideMail: sideMailSender({ acceptor, policy: () => policy.cached(), node }),
          hostname: config.hostname,
        }),
        dkimSignStage({ keys }),
        arcSealStage({ authservId: config.hostname, keys, settings: currentSettings, resolver: dns.resolve }),
      ].map(timed),
    ));
    this.notifier = openNotifier({
      db,
      config,
      log,
      queue: this.quarantine.releaseQueue,
      policy,
      stages: pipeline.perCopy,
      masterKey: () => (this.#masterKey ??= loadMasterKey(config.masterKeyFile)),
      holder: `node${node}:${process.pid}`,
    });
    this.#pool = new SmtpClientPool({
      hostname: config.hostname,
      // The limit is per gateway, shared out between the workers.
      maxPerDestination: Math.max(1, Math.ceil(settings['delivery.concurrencyPerDestination'] / (o.workers ?? 1))),
      connectTimeoutMs: settings['delivery.connectTimeoutSec'] * 1000,
      idleTimeoutMs: 5000,
      log,
    });
    this.scheduler = new DeliveryScheduler({
      db,
      index: this.index,
      spool: this.spool,
      acceptor,
      dns,
      pool: this.#pool,
      transport: new TransportSecurity({ db, dns, policy, masterKey: () => (this.#masterKey ??= loadMasterKey(config.masterKeyFile)), log }),
      policy,
      hostname: config.hostname,
      node,
      owner: this.nodeName,
      log,
      // DSNs are signed like relayed mail: with the keys of their From domain (the host name's).
      signDsn: (m) => signOwnMessage(keys, m),
      ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
    });
    // Submitted mail is outbound mail: the same pipeline as the relay networks' (malware,
    // attachments, outbound spam scoring, disclaimers, DKIM), after AUTH.
    for (const [listener, implicitTls] of [[config.smtp.submission, false], [config.smtp.submissions, true]] as const) {
      if (!listener) continue;
      this.submission.push(
        new MxServer({
          hostname: config.hostname,
          host: listener.host,
          port: listener.port,
          certificates,
          node,
          policy,
          pipeline,
          acceptor,
          index: this.index,
          quarantine: this.quarantine.store,
          submission: new SubmissionGate({
            implicitTls,
            authenticate: (user, password, ip) => authenticateSubmission(db, user, password, ip),
            settings: currentSettings,
            counter: { count: (key, windowMs) => rateLimitCount(db, key, windowMs), hit: (key, windowMs) => hitRateLimit(db, key, windowMs) },
            log: log.child({ listener: implicitTls ? 'submissions' : 'submission' }),
          }),
          log,
        }),
      );
    }
    this.mx = new MxServer({
      hostname: config.hostname,
      host: config.smtp.mx.host,
      port: config.smtp.mx.port,
      certificates,
      node,
      policy,
      pipeline,
      acceptor,
      index: this.index,
      quarantine: this.quarantine.store,
      dnsblLookup: (n) => dns.a(n),
      limits: clientLimiter(log),
      rcptCheck: async (client, mailFrom, rcpt) => {
        if (client.trusted || !currentSettings()['filter.enabled']) return null;
        const why = (await filterConfig.get()).lists.blockAtRcpt({ mailFrom, clientIp: client.ip }, rcpt);
        return why ? { code: 554, enhanced: '5.7.1', message: `<${rcpt}>: Recipient address rejected: the sender is blocked by this recipient's list` } : null;
      },
      log,
    });
  }

  static async open(o: GatewayOptions): Promise<Gateway> {
    const db = openDatabase(o.config.storage.database, { synchronous: 'NORMAL' });
    // In a cluster the primary has migrated already; this is then a no-op check.
    await migrate(db);
    const policy = new PolicyStore(db);
    await policy.current();
    const config = o.config;
    trustAcmeCa(config.acme.caFile);
    let masterKey: MasterKey | null = null;
    const certificates = await TlsCertificates.open({
      source: storeSource(db, () => (masterKey ??= loadMasterKey(config.masterKeyFile))),
      fallback: { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.cert) },
      hostname: config.hostname,
      log: o.log,
    });
    return new Gateway(o, policy, db, certificates);
  }

  async start(): Promise<void> {
    await this.spool.init();
    const nodes = [...new Set([this.#node, ...(await this.spool.nodes()).filter((n) => n % this.#workers === this.#node)])];
    const rec = await recoverSpool(this.db, this.spool, this.index, this.#log, nodes);
    if (rec.reindexed || rec.removed || rec.damaged) this.#log.info(rec, 'spool recovered');
    await this.scheduler.releaseOwnLeases();
    const heartbeat = startNodeHeartbeat({ db: this.db, name: this.nodeName, version: GATEWAY_VERSION, log: this.#log });
    this.#heartbeat = heartbeat;
    await heartbeat.beat().catch((err: unknown) => this.#log.warn({ err }, 'could not record the node heartbeat'));
    const resumed = await this.scheduler.resumeAll();
    if (resumed) this.#log.info({ deliveries: resumed }, 'resuming pending deliveries');
    this.scheduler.start();
    void this.scheduler.pollDue();
    if (this.#node === 0) {
      this.#purge = startQuarantinePurge({ service: this.quarantine.service, retentionDays: () => this.policy.cached().settings['quarantine.retentionDays'], log: this.#log });
      this.#notifyTimers = startNotificationTimers(this.notifier);
      this.#traceRetention = startTraceRetention({ db: this.db, retentionDays: () => this.policy.cached().settings['retention.traceDays'], log: this.#log, holder: this.nodeName });
      this.#renewal = startCertificateRenewal({ db: this.db, masterKey: () => this.#loadMasterKey(), log: this.#log, intervalMs: this.#config.acme.renewCheckSeconds * 1000, holder: this.nodeName });
    }
    await this.mx.listen();
    // startupMs: from this process's start to the listener being open (the figure an
    // admin waits through after `hermes start` or a worker restart).
    this.#log.info({ host: this.#config.smtp.mx.host, port: this.mx.address.port, hostname: this.#config.hostname, startupMs: Math.round(performance.now()) }, 'SMTP listening');
    for (const s of this.submission) {
      await s.listen();
      this.#log.info({ port: s.address.port, implicitTls: s.implicitTls }, 'submission listening');
    }
    await this.#startHttp();
    await this.#startAcmeHttp();
  }

  #loadMasterKey(): MasterKey {
    return (this.#masterKey ??= loadMasterKey(this.#config.masterKeyFile));
  }

  /**
   * The port-80 listener for ACME http-01. Not fatal when the port is taken or not
   * ours to bind: mail flows without it; ACME http-01 then fails with a clear error.
   */
  async #startAcmeHttp(): Promise<void> {
    const l = this.#config.acme.http;
    if (!l) return;
    try {
      this.#acmeHttp = await startAcmeHttpServer({ db: this.db, host: l.host, port: l.port, log: this.#log });
      this.#log.info({ host: l.host, port: this.#acmeHttp.port }, 'ACME http-01 listening');
    } catch (err) {
      this.#log.warn({ err, host: l.host, port: l.port }, 'ACME http-01 listener not started: certificates from ACME by http-01 cannot be issued or renewed');
    }
  }

  /** The port of the ACME http-01 listener (null: not running). */
  get acmeHttpPort(): number | null {
    return this.#acmeHttp?.port ?? null;
  }

  /** The HTTPS console and API; in a cluster each worker listens on the shared port. */
  async #startHttp(): Promise<void> {
    const c = this.#config;
    this.#http = await startHttpServer({
      host: c.http.host,
      port: c.http.port,
      certificates: this.certificates,
      ctx: {
        db: this.db,
        config: c,
        log: this.#log,
        masterKey: () => this.#loadMasterKey(),
        settings: async () => (await this.policy.current()).settings,
        gateway: this,
        smtpListening: () => this.mx.listening,
      },
    });
    this.#log.info({ host: c.http.host, port: this.#http.port }, 'HTTPS console and API listening');
  }

  /** The port the HTTPS server listens on (null before start). */
  get httpPort(): number | null {
    return this.#http?.port ?? null;
  }

  /** Graceful stop: no new sessions; running sessions and deliveries get `deadlineMs`. */
  async stop(deadlineMs = 10_000): Promise<void> {
    const t0 = Date.now();
    await this.#http?.close();
    await this.#acmeHttp?.close();
    this.#renewal?.stop();
    await Promise.all([this.mx, ...this.submission].map((s) => s.close(deadlineMs)));
    await this.scheduler.stop(Math.max(1000, deadlineMs - (Date.now() - t0)));
    this.#pool.close();
    this.#purge?.stop();
    this.#notifyTimers?.stop();
    this.#traceRetention?.stop();
    this.#heartbeat?.stop();
    this.certificates.close();
    await this.quarantine.close();
    await this.index.flush();
    await this.#indexDb.destroy();
    await this.db.destroy();
  }
}
