// Settings held in the database: typed, with defaults, validated on write. Every write
// bumps `config_serial`, which running gateways check to pick changes up at once.
import type { CompiledQuery } from 'kysely';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/retry-schedule.ts';
import { parseCidr } from '../smtp/cidr.ts';
import { parseClamdAddress } from '../pipeline/filter/malware/clamd.ts';
import { parseRspamdUrl, parseSpamdAddress } from '../pipeline/filter/external/address.ts';
import { ENCRYPTION_POLICIES, type EncryptionPolicy } from '../pipeline/encrypt/policy.ts';
import { DEFAULT_IP_ZONES, DEFAULT_URI_ZONES, validateZoneList, validateZoneNames, type DnsListZone } from '../pipeline/filter/dnsbl/zones.ts';

export interface Settings {
  'smtp.maxMessageSize': number;
  'smtp.maxRecipients': number;
  'smtp.maxClients': number;
  'smtp.idleTimeoutSec': number;
  /** Wait this long before the banner and reject clients that talk first (0 = off). */
  'smtp.greetPauseMs': number;
  /**
   * Accept recipients of relay domains whose local part routes elsewhere ("%", "!", or a
   * quoted "@") from clients outside the relay networks; off: 554 5.7.1 at RCPT.
   */
  'smtp.allowRoutedAddresses': boolean;
  /**
   * Lines in DATA that end in a bare LF: 'normalize' takes them as CRLF (Postfix 3.9's
   * default), 'reject' refuses the message with 550 5.5.2. Either way DATA ends only at
   * CRLF.CRLF (no SMTP smuggling) and a bare CR is refused.
   */
  'smtp.bareLf': 'normalize' | 'reject';
  'delivery.smarthost': string | null;
  'delivery.concurrencyPerDestination': number;
  /** Port used when delivering to MX hosts (25; tests point it elsewhere). */
  'delivery.mxPort': number;
  'delivery.connectTimeoutSec': number;
  'delivery.retry': RetryPolicy;
  /** Pending recipients the scheduler loads per poll (per worker); the rest follow as these finish. */
  'delivery.resumeBatch': number;
  /**
   * How long a node holds the recipients it is delivering (renewed while it works on
   * them): when a node dies, the others take its mail over once this has passed.
   */
  'delivery.leaseSec': number;
  /** Free bytes kept on the spool's filesystem: below this, new mail gets 452 4.3.1 (mail already accepted still has room). */
  'spool.minFreeBytes': number;
  /** Return only the headers of a bounced message in its DSN, or the full message. */
  'dsn.returnContent': 'headers' | 'full';

  // ---- Sender authentication of mail from outside the relay networks (verify stage).
  /** Check SPF, DKIM, DMARC and ARC and add Authentication-Results (off: nothing is checked or enforced). */
  'auth.verify': boolean;
  /** DMARC p=reject: 550 5.7.1 in the session; false handles it as p=quarantine. */
  'auth.dmarcReject': boolean;
  /** What DMARC p=quarantine does ('quarantine' tags until the quarantine store exists). */
  'auth.dmarcQuarantine': 'quarantine' | 'tag' | 'none';
  /** What an SPF hard fail does on its own (when DMARC did not pass). */
  'auth.spfHardFail': 'none' | 'tag' | 'reject';
  /** A DNS failure that could change the outcome: 451 and try later, or carry on as if neutral. */
  'auth.onTempError': 'tempfail' | 'neutral';
  /** Upper bound per DNS lookup during verification, in ms (on top of the resolver's own timeout). */
  'auth.dnsTimeoutMs': number;
  /** Sender domains (and their subdomains) or client networks whose SPF result is not acted on. */
  'auth.bypass.spf': AuthBypassList;
  /** ... whose DKIM results are ignored. */
  'auth.bypass.dkim': AuthBypassList;
  /** ... whose DMARC policy is not applied (a DMARC whitelist). */
  'auth.bypass.dmarc': AuthBypassList;
  /** ARC sealer domains (ARC-Seal d=) whose recorded upstream pass may override a DMARC fail here. */
  'auth.trustedArcSealers': string[];

  // ---- ARC sealing of relayed mail, with a key from the DKIM key table.
  'arc.enabled': boolean;
  /** Sealing domain (d=); a DKIM key with this domain and arc.selector must exist (RSA). */
  'arc.domain': string | null;
  'arc.selector': string | null;

  // ---- Content filter: the built-in spam engine, its Bayes classifier, and the decide stage.
  /** Run the content filter at all (lists, malware, attachments, spam, rules, policies); off: relay only. */
  'filter.enabled': boolean;
  /** Run the built-in spam engine on mail from outside (scores, X-Spam headers, policy actions). */
  'spam.enabled': boolean;
  /** Also score mail from the relay networks (our own users), under the sender's policy; off: malware and attachments only. */
  'spam.scanOutbound': boolean;
  /** Use the Bayes classifier (it scores only once it has learned spam.bayesMinSpam and spam.bayesMinHam messages). */
  'spam.bayes': boolean;
  'spam.bayesMinSpam': number;
  'spam.bayesMinHam': number;
  /** Learn inbound mail the rules (without Bayes) find clearly spam or clearly ham. */
  'spam.autolearn': boolean;
  /** Autolearn as spam at or above this score (Bayes symbols left out). */
  'spam.autolearnSpamScore': number;
  /** Autolearn as ham at or below this score (Bayes symbols left out). */
  'spam.autolearnHamScore': number;
  /** Run SpamAssassin rule files (header, body, uri, meta ... rules) as symbols of the built-in engine. */
  'spam.saRules': boolean;
  /**
   * What a SpamAssassin rule's score counts for, 0 to 10. Its scores were fitted for
   * SpamAssassin alone (with its network tests); here the built-in checks and Bayes add
   * theirs, so they count half by default: cross-validation on the shared corpus
   * (bench/spam.ts) gave the best recall at 0.5% false positives at 0.25-0.5, and at
   * full weight 4.7% of ham reached the quarantine level on a fresh install.
   */
  'spam.saRulesWeight': number;
  /**
   * Directories (or files) of SpamAssassin rules, read in order (later ones override).
   * Empty: Debian's spamassassin rules (/usr/share/spamassassin, or the newest sa-update
   * download in /var/lib/spamassassin/<version>) and /etc/spamassassin (*.pre, local.cf).
   */
  'spam.saRulesDirs': string[];
  /**
   * A message that cannot be parsed (malformed MIME or headers): hold it in the quarantine,
   * or refuse it with 550 5.6.0. Never 451: it would fail the same way every time.
   */
  'filter.malformedAction': 'quarantine' | 'reject';
  /** Symbols that put a message in the "bad header" policy category. */
  'filter.badHeaderSymbols': string[];

  // ---- Quarantine store.
  /** Held messages are purged this many days after they were held (released or not). */
  'quarantine.retentionDays': number;

  // ---- Retention of message traces (the index: messages, recipients, events).
  /** Finished messages (delivered, bounced, rejected) are removed from the index this many days after they finished; queued mail never is. */
  'retention.traceDays': number;

  // ---- DNS blocklists: the client IP (dnsbl) and the domains linked in the body (uribl).
  /** Query the blocklists at all (they are spam symbols; rejectZones also needs this). */
  'dnsbl.enabled': boolean;
  /** Zones for the client IP, with symbol, weight and the answers that count. */
  'dnsbl.ipZones': DnsListZone[];
  /** Zones for the registered domains of URLs in the body. */
  'dnsbl.uriZones': DnsListZone[];
  /** All lookups of one message share this budget; what did not answer in time is skipped (and traced). */
  'dnsbl.budgetMs': number;
  /** A client listed in one of these zones (any ipZones answer) is refused in the session: 554 5.7.1. */
  'dnsbl.rejectZones': string[];
  /** At most this many distinct URL domains are looked up per message. */
  'dnsbl.maxUriDomains': number;

  // ---- Malware scanning (malware stage). The built-in EICAR check always runs.
  /** clamd to scan with: "unix:/run/clamav/clamd.ctl", "tcp:127.0.0.1:3310", or null for none. */
  'malware.clamd': string | null;
  /** When clamd cannot scan (down, timed out): 'tempfail' answers 451 so the sender retries; 'accept' lets mail through unscanned. */
  'malware.onError': 'tempfail' | 'accept';
  /** Deadline for one clamd scan, in ms. */
  'malware.timeoutMs': number;
  /** Larger messages are not sent to clamd: keep it at or below clamd's StreamMaxLength (Debian: 25M). */
  'malware.maxScanBytes': number;

  // ---- External spam engines (optional, off by default): their scores merge into the spam score.
  /** SpamAssassin's spamd: "host:port" (default port 783) or "unix:/path/to/spamd.sock"; null: not used. */
  'external.spamd': string | null;
  /** spamd's score times this is added to the spam score (SPAMD_SCORE). */
  'external.spamdWeight': number;
  /** Deadline for one spamd scan, in ms. */
  'external.spamdTimeoutMs': number;
  /** When spamd cannot scan: 'ignore' judges the message without it (SPAMD_UNAVAILABLE); 'tempfail' answers 451. */
  'external.spamdOnError': 'ignore' | 'tempfail';
  /** Rspamd's normal worker: "http://host:port" (default port 11333); null: not used. */
  'external.rspamd': string | null;
  /** Each Rspamd symbol's score times this is added to the spam score (RSPAMD_*). */
  'external.rspamdWeight': number;
  /** Deadline for one Rspamd scan, in ms. */
  'external.rspamdTimeoutMs': number;
  /** When Rspamd cannot scan: 'ignore' (RSPAMD_UNAVAILABLE) or 'tempfail' (451). */
  'external.rspamdOnError': 'ignore' | 'tempfail';
  /** Larger messages are not sent to the external engines (*_SKIPPED); spamc's own default is 500 KB. */
  'external.maxScanBytes': number;

  // ---- Console and API accounts.
  /** A console session ends after this many minutes without a request. */
  'console.sessionIdleMinutes': number;
  /** ... and this many hours after login, whatever its use. */
  'console.sessionMaxHours': number;
  /** Roles whose users must use TOTP 2FA (sent to enrolment after login until they do). */
  'console.require2faRoles': string[];

  // ---- Submission (587/465) and transport security.
  /** Messages one signed-in user may submit per hour (0 = no limit). */
  'submission.userMessagesPerHour': number;
  /** Messages submitted per hour from one client address, whoever signs in (0 = no limit). */
  'submission.ipMessagesPerHour': number;
  /** Partner sender domains and client networks that must use STARTTLS on the MX (530 5.7.0 at MAIL otherwise). */
  'smtp.requireTlsFrom': AuthBypassList;
  /** Extra CA certificates (PEM file) trusted next to the system's for outbound "verify" and MTA-STS. */
  'delivery.tlsCaFile': string | null;
  /** Apply the MTA-STS policy (RFC 8461) receiving domains publish. */
  'delivery.mtaSts': boolean;
  /** The HTTPS port MTA-STS policies are fetched from (443; another only for tests and split-horizon setups). */
  'delivery.mtaStsPort': number;

  // ---- Connection defences on the MX, for clients outside the relay networks (0 / false = off).
  // A client is its address, or its /64 for IPv6; counted across all worker processes.
  /** Connections open at once from one client (421 4.7.0 above it; Postfix's smtpd_client_connection_count_limit). */
  'smtp.limits.connectionsPerClient': number;
  /** New connections per minute from one client (421 4.7.0 above it). */
  'smtp.limits.connectionsPerMinute': number;
  /** Messages per hour from one client address (450 4.7.1 at MAIL above it). */
  'smtp.limits.messagesPerHour': number;
  /** Greylisting: a new (client network, sender, recipient) triplet gets 450 4.7.1 until it retries after greylist.delaySec. */
  'greylist.enabled': boolean;
  'greylist.delaySec': number;
  /** A triplet that retried in time passes for this many days after its last message. */
  'greylist.passDays': number;
  // ---- User portal, action links, digests and notifications.
  /** Base URL of the portal in links ("https://mail.example.com:8443"); null: https://<host name>:<http port>. */
  'portal.baseUrl': string | null;
  /** Action links in digests and notices expire after this many hours (never after the message's retention). */
  'portal.linkHours': number;
  /** Categories users may only ask to release (the admins decide); the others they release themselves. */
  'portal.requestOnlyCategories': string[];
  /** A recipient without a portal account may create one from a digest's sign-in link (it proves the mailbox is theirs). */
  'portal.selfEnrol': boolean;
  /** Link opens and confirmations per client address per 10 minutes. */
  'portal.linkRateLimit': number;
  /** How often recipients get a quarantine digest unless they chose otherwise. */
  'digest.frequency': 'never' | 'hourly' | 'daily' | 'weekly';
  /** Language of digests and notices unless the recipient chose one (notify/digest-text.ts: en, de, fr). */
  'digest.language': 'en' | 'de' | 'fr';
  /** Recipients whose policy is named here get a notice for every message held for them. */
  'notify.heldNoticePolicies': string[];
  /** Sender of digests, notices and admin notifications; null: postmaster@<host name>. */
  'notify.from': string | null;
  /** Where admin notifications go (queue, certificate, engines, disk, release requests); null: none are sent. */
  'notify.adminAddress': string | null;
  /** Admin notification: the oldest queued message is older than this many minutes. */
  'notify.queueAgeMinutes': number;
  /** Admin notification: the TLS certificate expires within this many days. */
  'notify.certificateDays': number;
  /** Admin notification: less than this share (percent) of the spool's disk is free. */
  'notify.diskFreePercent': number;
  // ---- Encryption of outbound mail (encrypt stage, docs/encryption.md).
  /** The default for recipients without a policy of their own or of their domain: never | sign | opportunistic | always. */
  'encryption.policy': EncryptionPolicy;
  /** Policies per recipient domain (a domain's policy covers its subdomains). */
  'encryption.domainPolicies': Record<string, EncryptionPolicy>;
  /** Policies per recipient address (above the domain's). */
  'encryption.recipientPolicies': Record<string, EncryptionPolicy>;
  /** A subject containing this (case-insensitive) forces encryption ('always') for that message; removed before sending. null: no keyword. */
  'encryption.subjectKeyword': string | null;
  /** Sign the mail it encrypts when the sender has a key (S/MIME: sign, then encrypt). */
  'encryption.signEncrypted': boolean;
  /** Issue S/MIME certificates from the internal CA for internal senders who have none (in the background). */
  'encryption.internalCa': boolean;
  /** Store the certificates of validly signed inbound mail for later encryption to their senders. */
  'encryption.harvest': boolean;
  /** Decrypt inbound S/MIME (and PGP) mail for internal recipients whose private keys the gateway holds, before the filters. */
  'encryption.decryptInbound': boolean;
  /** Warn this many days before a key or certificate expires (doctor, CLI, API). */
  'encryption.expiryWarningDays': number;
  /**
   * How the S/MIME content key is encrypted to a recipient's RSA key: 'rsa-pkcs1'
   * (PKCS#1 v1.5, which every RFC 8551 client reads) or 'rsa-oaep' (SHA-256). A
   * certificate whose key is marked RSAES-OAEP always gets OAEP.
   */
  'encryption.smimeKeyTransport': 'rsa-pkcs1' | 'rsa-oaep';
  /** Generate OpenPGP keys (in the background) for internal senders who send PGP mail without one. */
  'encryption.pgp.generateKeys': boolean;
  /** Look up external recipients' OpenPGP keys by WKD (HTTPS to the recipient's domain): off, as it tells that domain mail is coming. */
  'encryption.pgp.wkd': boolean;
}

export interface AuthBypassList {
  domains: string[];
  /** CIDR networks or single addresses. */
  networks: string[];
}

export const SETTINGS_DEFAULTS: Settings = {
  'smtp.maxMessageSize': 100 * 1024 * 1024,
  'smtp.maxRecipients': 1000,
  'smtp.maxClients': 500,
  'smtp.idleTimeoutSec': 300,
  'smtp.greetPauseMs': 0,
  'smtp.allowRoutedAddresses': false,
  'smtp.bareLf': 'normalize',
  'delivery.smarthost': null,
  'delivery.concurrencyPerDestination': 20,
  'delivery.mxPort': 25,
  'delivery.connectTimeoutSec': 30,
  'delivery.retry': DEFAULT_RETRY_POLICY,
  'delivery.resumeBatch': 5000,
  'delivery.leaseSec': 60,
  'spool.minFreeBytes': 100 * 1024 * 1024,
  'dsn.returnContent': 'headers',
  'auth.verify': true,
  'auth.dmarcReject': true,
  'auth.dmarcQuarantine': 'quarantine',
  'auth.spfHardFail': 'none',
  'auth.onTempError': 'tempfail',
  'auth.dnsTimeoutMs': 5000,
  'auth.bypass.spf': { domains: [], networks: [] },
  'auth.bypass.dkim': { domains: [], networks: [] },
  'auth.bypass.dmarc': { domains: [], networks: [] },
  'auth.trustedArcSealers': [],
  'arc.enabled': false,
  'arc.domain': null,
  'arc.selector': null,
  'filter.enabled': true,
  'spam.enabled': true,
  'spam.scanOutbound': false,
  'spam.bayes': true,
  'spam.bayesMinSpam': 200,
  'spam.bayesMinHam': 200,
  'spam.autolearn': true,
  'spam.autolearnSpamScore': 12,
  'spam.autolearnHamScore': 0.1,
  'spam.saRules': true,
  'spam.saRulesWeight': 0.5,
  'spam.saRulesDirs': [],
  'filter.malformedAction': 'quarantine',
  'filter.badHeaderSymbols': ['MISSING_FROM', 'MULTIPLE_FROM', 'MULTIPLE_DATE', 'MULTIPLE_MSGID', 'DUPLICATE_HEADER', 'HEADER_8BIT_INVALID', 'MIME_NO_BOUNDARY'],
  'quarantine.retentionDays': 30,
  'retention.traceDays': 30,
  'dnsbl.enabled': true,
  'dnsbl.ipZones': DEFAULT_IP_ZONES,
  'dnsbl.uriZones': DEFAULT_URI_ZONES,
  'dnsbl.budgetMs': 1500,
  'dnsbl.rejectZones': [],
  'dnsbl.maxUriDomains': 20,
  'malware.clamd': null,
  'malware.onError': 'tempfail',
  'malware.timeoutMs': 30_000,
  'malware.maxScanBytes': 25 * 1024 * 1024,
  'external.spamd': null,
  'external.spamdWeight': 1,
  'external.spamdTimeoutMs': 15_000,
  'external.spamdOnError': 'ignore',
  'external.rspamd': null,
  'external.rspamdWeight': 1,
  'external.rspamdTimeoutMs': 15_000,
  'external.rspamdOnError': 'ignore',
  'external.maxScanBytes': 1024 * 1024,
  'console.sessionIdleMinutes': 30,
  'console.sessionMaxHours': 12,
  'console.require2faRoles': [],
  'submission.userMessagesPerHour': 500,
  'submission.ipMessagesPerHour': 2000,
  'smtp.requireTlsFrom': { domains: [], networks: [] },
  'delivery.tlsCaFile': null,
  'delivery.mtaSts': true,
  'delivery.mtaStsPort': 443,
  'smtp.limits.connectionsPerClient': 50,
  'smtp.limits.connectionsPerMinute': 0,
  'smtp.limits.messagesPerHour': 0,
  'greylist.enabled': false,
  'greylist.delaySec': 300,
  'greylist.passDays': 36,
  'portal.baseUrl': null,
  'portal.linkHours': 72,
  'portal.requestOnlyCategories': ['malware'],
  'portal.selfEnrol': true,
  'portal.linkRateLimit': 60,
  'digest.frequency': 'daily',
  'digest.language': 'en',
  'notify.heldNoticePolicies': [],
  'notify.from': null,
  'notify.adminAddress': null,
  'notify.queueAgeMinutes': 60,
  'notify.certificateDays': 14,
  'notify.diskFreePercent': 10,
  'encryption.policy': 'never',
  'encryption.domainPolicies': {},
  'encryption.recipientPolicies': {},
  'encryption.subjectKeyword': '[encrypt]',
  'encryption.signEncrypted': true,
  'encryption.internalCa': true,
  'encryption.harvest': true,
  'encryption.decryptInbound': true,
  'encryption.expiryWarningDays': 30,
  'encryption.smimeKeyTransport': 'rsa-pkcs1',
  'encryption.pgp.generateKeys': true,
  'encryption.pgp.wkd': false,
};

export type SettingKey = keyof Settings;
const SERIAL_KEY = 'config_serial';

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS_DEFAULTS, key);
}

export async function loadSettings(db: Db): Promise<Settings> {
  const rows = await db.selectFrom('settings').select(['key', 'value']).execute();
  const out: Record<string, unknown> = { ...SETTINGS_DEFAULTS };
  for (const r of rows) {
    if (!isSettingKey(r.key)) continue;
    const v = JSON.parse(r.value) as unknown;
    const def = SETTINGS_DEFAULTS[r.key];
    const isRecord = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
    out[r.key] = isRecord(def) && isRecord(v) ? { ...(def as object), ...(v as object) } : v;
  }
  return out as unknown as Settings;
}

export function validateSetting(key: string, value: unknown): asserts key is SettingKey {
  if (!isSettingKey(key)) {
    throw new Error(`unknown setting "${key}"; known settings: ${Object.keys(SETTINGS_DEFAULTS).join(', ')}`);
  }
  const def = SETTINGS_DEFAULTS[key];
  const special = VALIDATORS[key];
  if (special) return special(key, value);
  if (typeof def === 'boolean') {
    if (typeof value !== 'boolean') throw new Error(`${key} must be true or false`);
    return;
  }
  if (key === 'delivery.smarthost') {
    if (value !== null && (typeof value !== 'string' || !/^[^\s:]+(:\d{1,5})?$|^\[[^\]]+\](:\d{1,5})?$/.test(value))) {
      throw new Error('delivery.smarthost must be "host[:port]" or null');
    }
    return;
  }
  if (key === 'dsn.returnContent') {
    if (value !== 'headers' && value !== 'full') throw new Error('dsn.returnContent must be "headers" or "full"');
    return;
  }
  if (typeof def === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${key} must be a non-negative number`);
    return;
  }
  if (typeof def === 'object' && def !== null) {
    if (typeof value !== 'object' || value === null) throw new Error(`${key} must be an object like ${JSON.stringify(def)}`);
    for (const [k, v] of Object.entries(value)) {
      if (!Object.hasOwn(def, k)) throw new Error(`${key}.${k} is not a known field (known: ${Object.keys(def).join(', ')})`);
      if (typeof v !== 'number' || v < 0) throw new Error(`${key}.${k} must be a non-negative number`);
    }
  }
}

const DOMAIN_RE = /^(?=.{1,253}$)(\*\.)?([a-z0-9_](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

function oneOf(...allowed: string[]) {
  return (key: string, value: unknown) => {
    if (typeof value !== 'string' || !allowed.includes(value)) throw new Error(`${key} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  };
}

function domainList(key: string, value: unknown): void {
  if (!Array.isArray(value)) throw new Error(`${key} must be a list of domain names, e.g. ["example.com"]`);
  for (const d of value) {
    if (typeof d !== 'string' || !DOMAIN_RE.test(d.trim())) throw new Error(`${key}: "${String(d)}" is not a domain name`);
  }
}

function nullableDomain(key: string, value: unknown): void {
  if (value !== null && (typeof value !== 'string' || !DOMAIN_RE.test(value))) throw new Error(`${key} must be a domain name or null`);
}

function bypassList(key: string, value: unknown): void {
  const example = '{"domains": ["example.com"], "networks": ["192.0.2.0/24"]}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${key} must be an object like ${example}`);
  for (const [k, v] of Object.entries(value)) {
    if (k === 'domains') domainList(`${key}.domains`, v);
    else if (k === 'networks') {
      if (!Array.isArray(v)) throw new Error(`${key}.networks must be a list of networks, e.g. ["192.0.2.0/24"]`);
      for (const n of v) {
        if (typeof n !== 'string') throw new Error(`${key}.networks: ${JSON.stringify(n)} is not a network`);
        parseCidr(n); // throws a precise error
      }
    } else throw new Error(`${key}.${k} is not a known field (known: domains, networks)`);
  }
}

function scoreSetting(key: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < -100 || value > 100) throw new Error(`${key} must be a score between -100 and 100`);
}

function wholeNumber(min: number, max: number) {
  return (key: string, value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new Error(`${key} must be a whole number between ${min} and ${max}`);
  };
}

function externalWeight(key: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 10) throw new Error(`${key} must be a number between 0 and 10 (1: the engine's score as it is)`);
}

function externalTimeout(key: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 100 || value > 120_000) throw new Error(`${key} must be a number of milliseconds between 100 and 120000`);
}

function wholeNumberIn(min: number, max: number) {
  return (key: string, value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new Error(`${key} must be a whole number from ${min} to ${max}`);
  };
}

function nullableAddress(key: string, value: unknown): void {
  if (value !== null && (typeof value !== 'string' || !/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(value))) throw new Error(`${key} must be an address like postmaster@example.com, or null`);
}

function policyMap(what: 'domain' | 'address') {
  return (key: string, value: unknown) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${key} must be an object like {"${what === 'domain' ? 'example.com' : 'bob@example.com'}": "always"}`);
    for (const [k, v] of Object.entries(value)) {
      if (what === 'domain' ? !DOMAIN_RE.test(k) || k !== k.toLowerCase() : !/^[^\s@]+@[^\s@]+$/.test(k) || k !== k.toLowerCase()) throw new Error(`${key}: "${k}" is not a lower-case ${what}`);
      if (!(ENCRYPTION_POLICIES as readonly unknown[]).includes(v)) throw new Error(`${key}.${k} must be one of ${ENCRYPTION_POLICIES.join(', ')}`);
    }
  };
}

const VALIDATORS: Partial<Record<SettingKey, (key: string, value: unknown) => void>> = {
  'submission.userMessagesPerHour': wholeNumberIn(0, 1_000_000),
  'submission.ipMessagesPerHour': wholeNumberIn(0, 1_000_000),
  'smtp.requireTlsFrom': bypassList,
  'delivery.tlsCaFile': (key, value) => {
    if (value !== null && (typeof value !== 'string' || !value.startsWith('/'))) throw new Error(`${key} must be the absolute path of a PEM file of CA certificates, or null`);
  },
  'delivery.mtaStsPort': wholeNumberIn(1, 65535),
  'smtp.limits.connectionsPerClient': wholeNumberIn(0, 1_000_000),
  'smtp.limits.connectionsPerMinute': wholeNumberIn(0, 1_000_000),
  'smtp.limits.messagesPerHour': wholeNumberIn(0, 1_000_000),
  'greylist.delaySec': wholeNumberIn(1, 24 * 3600),
  'greylist.passDays': wholeNumberIn(1, 365),
  'encryption.policy': oneOf(...ENCRYPTION_POLICIES),
  'encryption.domainPolicies': policyMap('domain'),
  'encryption.recipientPolicies': policyMap('address'),
  'encryption.subjectKeyword': (key, value) => {
    if (value !== null && (typeof value !== 'string' || value.trim().length < 3 || value.length > 40 || /[\r\n]/.test(value))) throw new Error(`${key} must be a word of 3 to 40 characters, like "[encrypt]", or null`);
  },
  'encryption.expiryWarningDays': wholeNumberIn(0, 365),
  'encryption.smimeKeyTransport': oneOf('rsa-pkcs1', 'rsa-oaep'),
  'portal.baseUrl': (key, value) => {
    if (value === null) return;
    if (typeof value !== 'string' || !/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(value)) throw new Error(`${key} must be an https:// URL such as "https://mail.example.com:8443", or null`);
  },
  'portal.linkHours': wholeNumberIn(1, 24 * 30),
  'portal.requestOnlyCategories': (key, value) => {
    const known = ['spam', 'malware', 'banned', 'badheader', 'rule', 'auth', 'malformed'];
    if (!Array.isArray(value) || value.some((c) => !known.includes(c as string))) throw new Error(`${key} must be a list of categories among ${known.join(', ')}`);
  },
  'portal.linkRateLimit': wholeNumberIn(1, 100_000),
  'digest.frequency': oneOf('never', 'hourly', 'daily', 'weekly'),
  'digest.language': oneOf('en', 'de', 'fr'),
  'notify.heldNoticePolicies': (key, value) => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !v)) throw new Error(`${key} must be a list of policy names, e.g. ["default"]`);
  },
  'notify.from': nullableAddress,
  'notify.adminAddress': nullableAddress,
  'notify.queueAgeMinutes': wholeNumberIn(1, 7 * 24 * 60),
  'notify.certificateDays': wholeNumberIn(1, 365),
  'notify.diskFreePercent': wholeNumberIn(1, 99),
  'console.sessionIdleMinutes': wholeNumberIn(1, 24 * 60),
  'console.sessionMaxHours': wholeNumberIn(1, 24 * 30),
  'console.require2faRoles': (key, value) => {
    const roles = ['admin', 'domain-admin', 'helpdesk', 'auditor'];
    if (!Array.isArray(value) || value.some((r) => !roles.includes(r as string))) throw new Error(`${key} must be a list of roles among ${roles.join(', ')}`);
  },
  'malware.clamd': (key, value) => {
    if (value === null) return;
    if (typeof value !== 'string') throw new Error(`${key} must be "unix:/path/to/clamd.sock", "tcp:host:port" or null`);
    parseClamdAddress(value); // throws a precise error
  },
  'malware.onError': oneOf('tempfail', 'accept'),
  'malware.timeoutMs': (key, value) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 100 || value > 600_000) throw new Error(`${key} must be a number of milliseconds between 100 and 600000`);
  },
  'malware.maxScanBytes': (key, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1024) throw new Error(`${key} must be a whole number of bytes, at least 1024`);
  },
  'external.spamd': (key, value) => {
    if (value === null) return;
    if (typeof value !== 'string') throw new Error(`${key} must be "host:port", "unix:/path/to/spamd.sock" or null`);
    parseSpamdAddress(value); // throws a precise error
  },
  'external.rspamd': (key, value) => {
    if (value === null) return;
    if (typeof value !== 'string') throw new Error(`${key} must be "http://host:port" or null`);
    parseRspamdUrl(value);
  },
  'external.spamdWeight': externalWeight,
  'external.rspamdWeight': externalWeight,
  'external.spamdTimeoutMs': externalTimeout,
  'external.rspamdTimeoutMs': externalTimeout,
  'external.spamdOnError': oneOf('ignore', 'tempfail'),
  'external.rspamdOnError': oneOf('ignore', 'tempfail'),
  'external.maxScanBytes': (key, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1024) throw new Error(`${key} must be a whole number of bytes, at least 1024`);
  },
  'spam.autolearnSpamScore': scoreSetting,
  'spam.autolearnHamScore': scoreSetting,
  'spam.bayesMinSpam': wholeNumber(1, 1_000_000),
  'spam.bayesMinHam': wholeNumber(1, 1_000_000),
  'filter.malformedAction': oneOf('quarantine', 'reject'),
  'smtp.bareLf': oneOf('normalize', 'reject'),
  'spam.saRulesWeight': externalWeight,
  'spam.saRulesDirs': (key, value) => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !v.startsWith('/'))) throw new Error(`${key} must be a list of absolute paths, e.g. ["/etc/spamassassin"] (empty: the default directories)`);
  },
  'filter.badHeaderSymbols': (key, value) => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !/^[A-Z0-9_]+$/.test(v))) throw new Error(`${key} must be a list of symbol names, e.g. ["MISSING_FROM"]`);
  },
  'quarantine.retentionDays': (key, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 3650) throw new Error(`${key} must be a whole number of days between 1 and 3650`);
  },
  'retention.traceDays': (key, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 3650) throw new Error(`${key} must be a whole number of days between 1 and 3650`);
  },
  'dnsbl.ipZones': validateZoneList,
  'dnsbl.uriZones': validateZoneList,
  'dnsbl.rejectZones': validateZoneNames,
  'dnsbl.budgetMs': (key, value) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 50 || value > 30_000) throw new Error(`${key} must be a number of milliseconds between 50 and 30000`);
  },
  'dnsbl.maxUriDomains': (key, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 200) throw new Error(`${key} must be a whole number between 0 and 200`);
  },
  'auth.dmarcQuarantine': oneOf('quarantine', 'tag', 'none'),
  'auth.spfHardFail': oneOf('none', 'tag', 'reject'),
  'auth.onTempError': oneOf('tempfail', 'neutral'),
  'auth.dnsTimeoutMs': (key, value) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 100 || value > 60_000) throw new Error(`${key} must be a number of milliseconds between 100 and 60000`);
  },
  'auth.bypass.spf': bypassList,
  'auth.bypass.dkim': bypassList,
  'auth.bypass.dmarc': bypassList,
  'auth.trustedArcSealers': domainList,
  'arc.domain': nullableDomain,
  'arc.selector': (key, value) => {
    if (value !== null && (typeof value !== 'string' || !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/i.test(value))) {
      throw new Error(`${key} must be a DKIM selector (letters, digits, "-", ".") or null`);
    }
  },
};

export async function setSetting(db: Db, key: string, value: unknown): Promise<void> {
  validateSetting(key, value);
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value) }))
      .execute();
    await bumpConfigSerial(trx);
  });
}

/** Several settings in one transaction: a running gateway sees all of them or none. */
export async function setSettings(db: Db, values: Record<string, unknown>): Promise<void> {
  for (const [k, v] of Object.entries(values)) validateSetting(k, v);
  await inTransaction(db, async (trx) => {
    for (const [key, value] of Object.entries(values)) {
      await trx
        .insertInto('settings')
        .values({ key, value: JSON.stringify(value) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value) }))
        .execute();
    }
    await bumpConfigSerial(trx);
  });
}

export async function resetSetting(db: Db, key: string): Promise<void> {
  validateSetting(key, SETTINGS_DEFAULTS[key as SettingKey]);
  await inTransaction(db, async (trx) => {
    await trx.deleteFrom('settings').where('key', '=', key).execute();
    await bumpConfigSerial(trx);
  });
}

/** Called in the same transaction as any configuration change. */
export async function bumpConfigSerial(db: Db): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key: SERIAL_KEY, value: '1' })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.cast(eb.eb(eb.cast('settings.value', 'integer'), '+', 1), 'text') }))
    .execute();
}

/** Read for every SMTP connection, so the query is compiled once per database handle. */
const serialQuery = new WeakMap<Db, CompiledQuery<{ value: string }>>();

export async function configSerial(db: Db): Promise<number> {
  let q = serialQuery.get(db);
  if (!q) {
    q = db.selectFrom('settings').select('value').where('key', '=', SERIAL_KEY).compile();
    serialQuery.set(db, q);
  }
  const row = (await db.executeQuery(q)).rows[0];
  return row ? Number(row.value) : 0;
}
