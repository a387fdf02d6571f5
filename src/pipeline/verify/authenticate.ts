// Sender authentication on the bytes as received: SPF, every DKIM signature, DMARC and
// the ARC chain, all done by mailauth; this module only composes its steps, routes
// every DNS lookup through the injected resolver, makes sure a DNS failure can only
// surface as temperror (never as a silent pass or a quiet "no match"), and writes
// one RFC 8601 Authentication-Results header under our authserv-id.
//
// Why the steps are called one by one instead of mailauth's authenticate(): each
// step gets its own resolver wrapper, so we know which lookups failed temporarily
// (mailauth turns a failed ARC key lookup into a plain "fail", and swallows some
// SPF include errors), and DMARC is evaluated with our own From-domain rules.
// First: mailauth's header parser is replaced before mailauth loads (see that file).
import './mailauth-header-parser.ts';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { createRequire } from 'node:module';
import dkimVerifyMod, { type DkimVerifyResult, type DkimVerifyResultRow } from 'mailauth/lib/dkim/verify.js';
import spfMod, { type SpfResult } from 'mailauth/lib/spf/index.js';
import arcMod from 'mailauth/lib/arc/index.js';
import verifyDmarc from 'mailauth/lib/dmarc/verify.js';
import tools from 'mailauth/lib/tools.js';
import parseDkimHeaders from 'mailauth/lib/parse-dkim-headers.js';
import { chainHasEd25519Seal, verifyArcSeals } from './arc-seal-verify.ts';
import { pkcs1KeyResolver } from './dkim-key-pkcs1.ts';
import { spfIncludeMacroResolver } from './spf-include-macros.ts';

const { dkimVerify } = dkimVerifyMod;
const { spf: mailauthSpf } = spfMod;
const { arc: mailauthArc } = arcMod;
const { formatAuthHeaderRow, getAlignment } = tools;

/** Same shape as dns.promises.resolve(name, rrtype) (and DnsResolver.resolve). */
export type Resolver = (name: string, rrtype: string) => Promise<unknown>;

export type SpfResultValue = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';
export type DkimResultValue = 'pass' | 'fail' | 'neutral' | 'policy' | 'temperror' | 'permerror';
export type DmarcResultValue = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
/** RFC 8617 results plus temperror: the chain could not be checked because of DNS. */
export type ArcResultValue = 'pass' | 'fail' | 'none' | 'temperror';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** Checks to skip entirely (no DNS); see bypassFor() in dmarc-enforce.ts. */
export interface VerifyBypass {
  spf?: boolean;
  dkim?: boolean;
  dmarc?: boolean;
  arc?: boolean;
}

export interface VerifyInput {
  /** The message exactly as received. */
  raw: Buffer;
  clientIp: string;
  /** EHLO/HELO argument ('' if none was given). */
  helo: string;
  /** MAIL FROM address without brackets; '' for the null sender. */
  mailFrom: string;
  /** Our authserv-id (the gateway's hostname). */
  authservId: string;
  resolver: Resolver;
  /** ARC sealer domains (ARC-Seal d=) whose recorded results we trust. */
  trustedArcSealers?: string[];
  /**
   * Skip these checks. A skipped check is absent from Authentication-Results and is
   * reported with skipped=true. DMARC is skipped as well when SPF or DKIM is, because
   * it would be computed from incomplete inputs.
   */
  bypass?: VerifyBypass;
  /** Clock for DKIM x= expiry (tests). */
  now?: Date;
  /** Smallest RSA key accepted for DKIM/ARC (default 1024, as RFC 8301). */
  minRsaBits?: number;
  /** Safety net per DNS lookup in ms, on top of the resolver's own timeouts (default 20000). */
  lookupTimeoutMs?: number;
}

export interface DnsTempFailure {
  phase: 'spf' | 'dkim' | 'arc' | 'dmarc';
  name: string;
  rrtype: string;
  code: string;
}

export interface SpfVerdict {
  result: SpfResultValue;
  /** Which identity was checked: MAIL FROM, or HELO for the null sender (RFC 7208 2.4). */
  identity: 'mailfrom' | 'helo';
  /** Domain whose policy was evaluated. */
  domain: string;
  comment?: string;
  /** The SPF record that was evaluated, if one was found. */
  record?: string;
  lookups?: { count: number; void: number };
  /** Ready Received-SPF header line (no trailing CRLF). */
  receivedSpf?: string;
  skipped?: boolean;
  /** The A-R method row ("spf=pass (...) smtp.mailfrom=..."). */
  info?: string;
}

export interface DkimSignatureVerdict {
  result: DkimResultValue;
  domain: string;
  selector: string;
  algorithm: string;
  canonicalization: string;
  /** d= is in the From domain's organisational domain (relaxed alignment). */
  aligned: boolean;
  comment?: string;
  keyBits?: number;
  /** Bytes of body not covered because of l=. */
  unsignedBodyBytes?: number;
  /** First characters of b=, to tell signatures apart (RFC 6008). */
  bTag?: string;
  info: string;
}

export interface DmarcVerdict {
  result: DmarcResultValue;
  /** RFC5322.From domain. */
  domain?: string;
  /** Organisational domain (Public Suffix List). */
  orgDomain?: string;
  /** The policy that applies to this From domain: sp for a subdomain covered by the org record, else p. */
  policy?: DmarcPolicy;
  p?: DmarcPolicy;
  sp?: DmarcPolicy;
  /** 0-100; 100 when absent or invalid. */
  pct: number;
  record?: string;
  alignment?: {
    spf: { domain?: string; strict: boolean };
    dkim: { domain?: string; strict: boolean };
  };
  comment?: string;
  skipped?: boolean;
  info?: string;
}

export interface UpstreamResults {
  /** authserv-id of the newest ARC-Authentication-Results. */
  authservId: string;
  /** The newest ARC-Authentication-Results value, without "i=N;". */
  raw: string;
  spf?: { result: string; domain?: string };
  dkim: Array<{ result: string; domain?: string }>;
  dmarc?: { result: string; domain?: string };
  arc?: { result: string };
  /** What the upstream recorded, judged against our From domain (relaxed alignment). */
  alignedPass: { dmarc: boolean; dkim: boolean; spf: boolean };
}

export interface ArcVerdict {
  result: ArcResultValue;
  /** Highest instance on arrival (0 when there is no chain). */
  instance: number;
  comment?: string;
  /** d= and s= of the newest ARC-Seal. */
  sealer?: { domain: string; selector: string };
  /** result is pass and the newest sealer is in trustedArcSealers. */
  trustedSealer: boolean;
  /** For a valid chain: what the newest ARC-Authentication-Results recorded. */
  upstream?: UpstreamResults;
  /** RFC 8617 5.1 step 1 (and the 50-instance limit): may we add a set? */
  shouldSeal: boolean;
  skipped?: boolean;
  info?: string;
}

export interface AuthVerdict {
  authservId: string;
  envelope: { clientIp: string; helo: string; mailFrom: string };
  from: { addresses: string[]; domain?: string };
  spf: SpfVerdict;
  /**
   * RFC 7208 2.3: the HELO identity checked on its own, when MAIL FROM is not empty and
   * the HELO is a domain name. Reported and scored only: never acted on, never used
   * for DMARC (docs/architecture.md, "Where the verify stage corrects mailauth").
   */
  spfHelo?: SpfVerdict;
  dkim: DkimSignatureVerdict[];
  dmarc: DmarcVerdict;
  arc: ArcVerdict;
  dnsTempFailures: DnsTempFailure[];
  /** Authentication-Results value: "authserv-id;\r\n dkim=...;\r\n spf=...". */
  authResults: string;
  /** The whole header line, folded, ending in CRLF. */
  authResultsHeader: string;
}

// ---------------------------------------------------------------------------
// DNS: every lookup goes through here.

const NO_RECORD_CODES = new Set(['ENOTFOUND', 'ENODATA']);
// A name that cannot exist (bad syntax) is "no such record", not a temporary failure.
const BAD_NAME_CODES = new Set(['EBADNAME', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);

function codeOf(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && c ? c : 'ESERVFAIL';
}

interface DnsError extends Error {
  code: string;
  spfResult?: { error: string; text: string };
}

function trackedResolver(
  resolver: Resolver,
  phase: DnsTempFailure['phase'],
  failures: DnsTempFailure[],
  timeoutMs: number,
): Resolver {
  return async (name: string, rrtype: string) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(`DNS lookup ${rrtype} ${name} did not finish in ${timeoutMs} ms`) as DnsError;
          e.code = 'ETIMEOUT';
          reject(e);
        }, timeoutMs);
      });
      return await Promise.race([Promise.resolve().then(() => resolver(name, rrtype)), guard]);
    } catch (err) {
      const code = codeOf(err);
      // Always throw a fresh error: mailauth annotates the errors it sees, and a
      // caching resolver may hand the same object to several callers.
      if (NO_RECORD_CODES.has(code) || BAD_NAME_CODES.has(code)) {
        const e = new Error(`DNS ${code} ${rrtype} ${name}`) as DnsError;
        e.code = NO_RECORD_CODES.has(code) ? code : 'ENOTFOUND';
        throw e;
      }
      failures.push({ phase, name, rrtype, code });
      const e = new Error(`DNS ${code} ${rrtype} ${name}`) as DnsError;
      e.code = code;
      // mailauth's SPF code passes on only errors that carry an spfResult from inside
      // include: and redirect=; without it a SERVFAIL there would be a quiet non-match.
      if (phase === 'spf') e.spfResult = { error: 'temperror', text: `DNS ${code} looking up ${rrtype} ${name}` };
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
    }
  };
}

// ---------------------------------------------------------------------------
// SPF

export interface SpfInput {
  clientIp: string;
  helo: string;
  mailFrom: string;
  authservId: string;
  resolver: Resolver;
  lookupTimeoutMs?: number;
}

/** A HELO worth an SPF check of its own: a multi-label domain name, not an address literal. */
export function heloIsDomain(helo: string): boolean {
  const h = helo.trim().replace(/\.$/, '');
  return !isIP(h) && !h.startsWith('[') && /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/i.test(h);
}

/** RFC 7208 2.3 check_host() on the HELO identity alone, with its own A-R row (smtp.helo=). */
export async function checkHeloSpf(input: SpfInput, failures: DnsTempFailure[] = []): Promise<SpfVerdict> {
  const v = await checkSpf({ ...input, mailFrom: '' }, failures);
  const status = { result: v.result, comment: v.comment ?? (false as const), smtp: { helo: input.helo.trim() } };
  return { ...v, identity: 'helo', info: formatAuthHeaderRow('spf', status) };
}

/** RFC 7208 check_host() for MAIL FROM (or HELO for the null sender). Usable on its own at MAIL FROM time. */
export async function checkSpf(input: SpfInput, failures: DnsTempFailure[] = []): Promise<SpfVerdict> {
  let helo = input.helo || input.clientIp;
  if (isIP(helo)) helo = `[${helo}]`;
  const mailFrom = input.mailFrom.trim();
  const topDomain = mailFrom ? domainOf(mailFrom) : helo;
  const resolver = spfIncludeMacroResolver(trackedResolver(input.resolver, 'spf', failures, input.lookupTimeoutMs ?? 20_000), topDomain);
  const res: SpfResult = await mailauthSpf({
    sender: mailFrom || undefined,
    ip: input.clientIp,
    helo,
    mta: input.authservId,
    resolver,
  });
  const comment = typeof res.status.comment === 'string' ? res.status.comment : undefined;
  const out: SpfVerdict = {
    result: res.status.result as SpfResultValue,
    identity: mailFrom ? 'mailfrom' : 'helo',
    domain: res.domain,
    info: res.info,
    receivedSpf: res.header,
  };
  if (comment) out.comment = comment;
  if (res.rr) out.record = res.rr;
  if (res.lookups) out.lookups = { count: res.lookups.count, void: res.lookups.void };
  return out;
}

// ---------------------------------------------------------------------------
// DKIM

function mapDkimRow(row: DkimVerifyResultRow): { result: DkimResultValue; comment?: string } {
  const raw = row.status.result;
  const comment = typeof row.status.comment === 'string' ? row.status.comment : undefined;
  if (raw === 'neutral' && comment) {
    // RFC 6376 6.1.3 / RFC 8601 2.7.1: a body hash mismatch is a failed verification.
    if (comment === 'body hash did not verify') return { result: 'fail', comment };
    // RFC 6376 6.1.2: no key / unusable key record is a PERMFAIL.
    if (['no key', 'invalid public key', 'unknown key version', 'unknown key type'].includes(comment)) {
      return { result: 'permerror', comment };
    }
  }
  const known: DkimResultValue[] = ['pass', 'fail', 'neutral', 'policy', 'temperror', 'permerror'];
  return { result: known.includes(raw as DkimResultValue) ? (raw as DkimResultValue) : 'neutral', ...(comment ? { comment } : {}) };
}

/**
 * Key record tags mailauth does not apply (RFC 6376 3.6.1): s= service types (a key
 * published only for another service, e.g. s=tlsrpt, MUST be ignored for email) and h=
 * (the hash algorithms the key may be used with).
 */
function keyRecordProblem(row: DkimVerifyResultRow & { rr?: string }): string | null {
  if (!row.rr) return null;
  const tagsOf = new Map<string, string>();
  for (const spec of row.rr.split(';')) {
    const eq = spec.indexOf('=');
    if (eq > 0) tagsOf.set(spec.slice(0, eq).trim(), spec.slice(eq + 1).replace(/\s+/g, ''));
  }
  const services = tagsOf.get('s')?.toLowerCase().split(':').filter(Boolean);
  if (services && !services.includes('*') && !services.includes('email')) return `key record is not for email (s=${services.join(':')})`;
  const hashes = tagsOf.get('h')?.toLowerCase().split(':').filter(Boolean);
  const hash = (row.algo ?? '').split('-').pop()?.toLowerCase();
  if (hashes && hash && !hashes.includes(hash)) return `key record does not allow ${hash} (h=${hashes.join(':')})`;
  return null;
}

/**
 * RFC 6376 6.1.1: the domain of i= MUST be d= or a subdomain of it, else the signature
 * is a PERMFAIL. mailauth 4.9.5 (lib/dkim/dkim-verifier.js) never reads i=, so a
 * key of example.com could vouch for an identity (i=joe@football.example) under another
 * domain. See docs/upstream-mailauth.md.
 */
export function identityProblem(iTag: unknown, signingDomain: string): string | null {
  if (iTag === undefined || iTag === null) return null;
  const i = String(iTag).trim();
  const at = i.lastIndexOf('@');
  if (at < 0) return 'malformed i= tag (no @)';
  const norm = (x: string) => x.toLowerCase().replace(/\.$/, '');
  const iDomain = norm(i.slice(at + 1));
  const d = norm(signingDomain);
  if (iDomain === d || iDomain.endsWith(`.${d}`)) return null;
  return `i= domain ${iDomain || '(empty)'} is not d=${d} or a subdomain of it`;
}

/** The i= of each DKIM-Signature, by its b= value (how mailauth's result rows are told apart). */
function identitiesBySignature(res: DkimVerifyResult): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const h of res.headers?.parsed ?? []) {
    if (h.key !== 'dkim-signature') continue;
    const p = parseDkimHeaders(h.line).parsed ?? {};
    if (p.b?.value !== undefined) out.set(String(p.b.value), p.i?.value);
  }
  return out;
}

function dkimRowsToVerdicts(res: DkimVerifyResult): DkimSignatureVerdict[] {
  const out: DkimSignatureVerdict[] = [];
  const seen = new Set<string>();
  const identities = identitiesBySignature(res);
  for (const row of res.results) {
    if (!row.signingDomain && row.status.result === 'none') continue; // "message not signed"
    let { result, comment } = mapDkimRow(row);
    const keyProblem = result === 'pass' || result === 'fail' ? keyRecordProblem(row) : null;
    if (keyProblem) {
      result = 'permerror';
      comment = keyProblem;
    }
    const idProblem = row.signature !== undefined ? identityProblem(identities.get(row.signature), row.signingDomain ?? '') : null;
    if (idProblem) {
      result = 'permerror';
      comment = idProblem;
    }
    const status = { ...row.status, result, comment: comment ?? (false as const) };
    const v: DkimSignatureVerdict = {
      result,
      domain: row.signingDomain ?? '',
      selector: row.selector ?? '',
      algorithm: row.algo ?? '',
      canonicalization: row.format ?? 'simple/simple',
      aligned: !!row.status.aligned && !idProblem,
      info: formatAuthHeaderRow('dkim', status),
    };
    if (comment) v.comment = comment;
    if (row.modulusLength) v.keyBits = row.modulusLength;
    if (row.status.underSized) v.unsignedBodyBytes = row.status.underSized;
    if (row.signature) v.bTag = row.signature.slice(0, 8);
    seen.add(`${row.signingDomain}|${row.selector}|${row.signature}`);
    out.push(v);
  }
  // mailauth silently drops signatures it cannot process (unknown a=, c=, missing d=/s=):
  // they must still be reported (RFC 6376 6.1.1: PERMFAIL).
  for (const h of res.headers?.parsed ?? []) {
    if (h.key !== 'dkim-signature') continue;
    const p = parseDkimHeaders(h.line).parsed ?? {};
    const d = String(p.d?.value ?? '');
    const s = String(p.s?.value ?? '');
    const b = p.b?.value === undefined ? undefined : String(p.b.value);
    if (seen.has(`${d}|${s}|${b}`)) continue;
    const comment = `unsupported or malformed signature (a=${p.a?.value ?? ''} c=${p.c?.value ?? ''})`;
    out.push({
      result: 'permerror',
      domain: d,
      selector: s,
      algorithm: String(p.a?.value ?? ''),
      canonicalization: String(p.c?.value ?? ''),
      aligned: false,
      comment,
      info: formatAuthHeaderRow('dkim', {
        result: 'permerror',
        comment,
        header: { i: d ? `@${d}` : false, s: s || false, b: b ? b.slice(0, 8) : false },
      }),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// DMARC helpers

function asPolicy(v: unknown): DmarcPolicy | undefined {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return s === 'none' || s === 'quarantine' || s === 'reject' ? s : undefined;
}

/** pct from the record text (mailauth turns an invalid pct into 0; RFC 7489 says use the default). */
function pctOf(record: string | undefined): number {
  if (!record) return 100;
  const m = /(?:^|;)\s*pct\s*=\s*([^;]*)/i.exec(record);
  if (!m) return 100;
  const t = m[1]!.trim();
  if (!/^\d{1,3}$/.test(t)) return 100;
  const n = Number(t);
  return n >= 0 && n <= 100 ? n : 100;
}

function domainOf(addr: string): string {
  const at = addr.lastIndexOf('@');
  return (at >= 0 ? addr.slice(at + 1) : addr).trim().toLowerCase().replace(/\.$/, '');
}

function sameDomain(a: string | undefined, b: string | undefined): boolean {
  const norm = (x: string) => domainToASCII(x.trim().toLowerCase().replace(/\.$/, '')) || x.trim().toLowerCase();
  return !!a && !!b && norm(a) === norm(b);
}

function tagIs(record: string | undefined, tag: string, value: string): boolean {
  if (!record) return false;
  const m = new RegExp(`(?:^|;)\\s*${tag}\\s*=\\s*([^;]*)`, 'i').exec(record);
  return !!m && m[1]!.trim().toLowerCase() === value;
}

// mailauth finds organisational domains with tldts (its bundled copy of the Public
// Suffix List, ICANN and private sections); load the very same module instance.
const requireFromMailauth = createRequire(createRequire(import.meta.url).resolve('mailauth'));
const tldts = requireFromMailauth('tldts') as { getDomain(d: string, o: object): string | null };

/** RFC 7489 3.2 organisational domain (registrable domain per the PSL), as DMARC here uses it; null for a public suffix. */
export function organizationalDomain(domain: string): string | null {
  return tldts.getDomain(domain, tools.TLDTS_OPTS);
}

/** Relaxed alignment: same organisational domain (Public Suffix List, via mailauth/tldts). */
function aligns(fromDomain: string, other: string | undefined): boolean {
  if (!fromDomain || !other) return false;
  return !!getAlignment(fromDomain, [other.toLowerCase().replace(/^@/, '')]);
}

// ---------------------------------------------------------------------------
// ARC helpers

function parseUpstream(aarOriginal: string, fromDomain: string | undefined): UpstreamResults {
  const p = parseDkimHeaders(aarOriginal).parsed ?? {};
  const raw = aarOriginal
    .replace(/^[^:]*:\s*/, '')
    .replace(/^\s*i\s*=\s*\d+\s*;\s*/i, '')
    .trim();
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  const res: UpstreamResults = {
    authservId: str(p.value) ?? '',
    raw,
    dkim: [],
    alignedPass: { dmarc: false, dkim: false, spf: false },
  };
  if (p.spf) {
    const d = str(p.spf.smtp?.mailfrom) ?? str(p.spf.smtp?.mfrom) ?? str(p.spf.smtp?.helo);
    res.spf = { result: String(p.spf.value ?? '').toLowerCase(), ...(d ? { domain: domainOf(d) } : {}) };
  }
  for (const e of Array.isArray(p.dkim) ? p.dkim : p.dkim ? [p.dkim] : []) {
    const d = str(e.header?.d) ?? str(e.header?.i);
    res.dkim.push({ result: String(e.value ?? '').toLowerCase(), ...(d ? { domain: domainOf(d) } : {}) });
  }
  if (p.dmarc) {
    const d = str(p.dmarc.header?.from);
    res.dmarc = { result: String(p.dmarc.value ?? '').toLowerCase(), ...(d ? { domain: domainOf(d) } : {}) };
  }
  if (p.arc) res.arc = { result: String(p.arc.value ?? '').toLowerCase() };
  if (fromDomain) {
    res.alignedPass = {
      dmarc: res.dmarc?.result === 'pass' && (!res.dmarc.domain || aligns(fromDomain, res.dmarc.domain)),
      dkim: res.dkim.some(e => e.result === 'pass' && aligns(fromDomain, e.domain)),
      spf: res.spf?.result === 'pass' && aligns(fromDomain, res.spf.domain),
    };
  }
  return res;
}

/**
 * RFC 6376 3.2 tag-list grammar, which ARC-Seal and ARC-Message-Signature use (RFC
 * 8617 4.1): tag names are ALPHA *(ALPHA / DIGIT / "_") and case-sensitive, values
 * have no ";" and no control characters, no tag may repeat, only the last tag-spec
 * may be followed by a bare ";". mailauth parses these leniently (it lower-cases names,
 * keeps the last duplicate and skips empty specs), so a seal whose signature covers a
 * malformed header would pass; the ARC suite requires fail.
 */
export function tagListProblem(headerLine: string, required: readonly string[]): string | null {
  const colon = headerLine.indexOf(':');
  const value = headerLine.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '');
  const specs = value.split(';');
  if (specs.length > 1 && specs[specs.length - 1]!.trim() === '') specs.pop();
  const names = new Set<string>();
  for (const spec of specs) {
    const m = /^[ \t]*([A-Za-z][A-Za-z0-9_]*)[ \t]*=[ \t]*((?:[\x21-\x3a\x3c-\x7e]+(?:[ \t]+[\x21-\x3a\x3c-\x7e]+)*)?)[ \t]*$/.exec(spec);
    if (!m) return `malformed tag-spec "${spec.trim().slice(0, 40)}"`;
    if (names.has(m[1]!)) return `duplicate tag ${m[1]}`;
    names.add(m[1]!);
  }
  const missing = required.filter(r => !names.has(r));
  return missing.length ? `missing tag ${missing.join(', ')}` : null;
}

const AS_REQUIRED_TAGS = ['i', 'a', 'b', 'cv', 'd', 's'] as const;
const AMS_REQUIRED_TAGS = ['i', 'a', 'b', 'bh', 'd', 'h', 's'] as const;

const ARC_MAX_INSTANCE = 50;

// ---------------------------------------------------------------------------
// Authentication-Results

/** Folds one method row at spaces outside quoted strings, so lines stay short. */
function foldRow(row: string, width = 76): string {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i]!;
    if (c === '\\' && quoted) {
      word += c + (row[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ' ' && !quoted) {
      words.push(word);
      word = '';
    } else word += c;
  }
  words.push(word);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else {
      cur = cur ? `${cur} ${w}` : w;
    }
  }
  if (cur) lines.push(cur);
  return lines.join('\r\n\t');
}

function buildAuthResults(authservId: string, rows: string[]): string {
  if (!rows.length) return `${authservId}; none`;
  return `${authservId};\r\n\t` + rows.map(r => foldRow(r)).join(';\r\n\t');
}

// ---------------------------------------------------------------------------

interface Phase {
  input: VerifyInput;
  failures: DnsTempFailure[];
  timeoutMs: number;
  minBitLength: number;
}

async function evaluateArc(ph: Phase, dkimRes: DkimVerifyResult, fromDomain: string | undefined): Promise<ArcVerdict> {
  const chainData = dkimRes.arc ?? { chain: false };
  const lastEntry = chainData.lastEntry;
  // The newest ARC-Seal: from the parsed chain, or, when mailauth could not build the
  // chain (gaps, duplicates, cv=fail inside), the one with the highest i= among the raw headers.
  let newestSeal: Record<string, any> | undefined = lastEntry?.['arc-seal']?.parsed;
  if (!newestSeal) {
    for (const h of dkimRes.headers?.parsed ?? []) {
      if (h.key !== 'arc-seal') continue;
      const p = parseDkimHeaders(h.line).parsed ?? {};
      const i = Number(p.i?.value);
      if (Number.isInteger(i) && i > 0 && i <= 1000 && (!newestSeal || i > Number(newestSeal.i?.value))) newestSeal = p;
    }
  }
  const verdict: ArcVerdict = {
    result: 'none',
    instance: lastEntry?.i ?? (newestSeal ? Number(newestSeal.i?.value) : 0),
    trustedSealer: false,
    shouldSeal: true,
  };
  if (newestSeal?.d?.value) {
    verdict.sealer = { domain: String(newestSeal.d.value).toLowerCase(), selector: String(newestSeal.s?.value ?? '') };
  }
  if (ph.input.bypass?.arc) {
    verdict.skipped = true;
    verdict.shouldSeal = false;
    return verdict;
  }

  const arcOpts = {
    resolver: pkcs1KeyResolver(trackedResolver(ph.input.resolver, 'arc', ph.failures, ph.timeoutMs)),
    minBitLength: ph.minBitLength,
  };
  // mailauth checks Ed25519 seals over the wrong bytes (see arc-seal-verify.ts): such
  // chains get their seal step from us; everything else is mailauth's.
  const arcStatus =
    !chainData.error && chainHasEd25519Seal(chainData) ? await verifyArcSeals(chainData, arcOpts) : (await mailauthArc(chainData, arcOpts)).status;
  let result = arcStatus.result as ArcResultValue;
  let comment = typeof arcStatus.comment === 'string' ? arcStatus.comment : undefined;
  if (result === 'pass' && lastEntry) {
    // Every ARC-Seal is verified, and the newest ARC-Message-Signature: all must be well-formed.
    for (const set of chainData.chain || []) {
      const asProblem = tagListProblem(String(set['arc-seal'].original), AS_REQUIRED_TAGS);
      const amsProblem = set === lastEntry ? tagListProblem(String(set['arc-message-signature'].original), AMS_REQUIRED_TAGS) : null;
      if (asProblem || amsProblem) {
        result = 'fail';
        comment = `i=${set.i} ${asProblem ? `ARC-Seal ${asProblem}` : `ARC-Message-Signature ${amsProblem}`}`;
        break;
      }
    }
  }
  if (result === 'fail') {
    // mailauth reports a seal or AMS whose key lookup failed temporarily as "fail".
    const ams = lastEntry?.['arc-message-signature']?.parsed;
    const amsKey = ams ? `${ams.s?.value}._domainkey.${ams.d?.value}`.toLowerCase() : null;
    const temp = ph.failures.some(
      f => f.phase === 'arc' || (amsKey !== null && f.phase === 'dkim' && f.name.toLowerCase().replace(/\.$/, '') === amsKey),
    );
    if (temp) {
      result = 'temperror';
      comment = 'temporary DNS failure while validating the chain';
    }
  }
  verdict.result = result;
  if (comment) verdict.comment = comment;
  // RFC 8617 5.1 step 1: no new set on a chain whose newest seal says cv=fail (or that
  // cannot be parsed); a chain we found failing gets our set with cv=fail.
  const lastCv = String(newestSeal?.cv?.value ?? '').toLowerCase();
  verdict.shouldSeal =
    result === 'pass' || result === 'none' ? true : result === 'fail' ? lastCv === 'none' || lastCv === 'pass' : false;
  if (verdict.instance >= ARC_MAX_INSTANCE) verdict.shouldSeal = false;
  if (result === 'pass' && lastEntry) {
    verdict.upstream = parseUpstream(String(lastEntry['arc-authentication-results'].original), fromDomain);
    const trusted = (ph.input.trustedArcSealers ?? []).map(x => x.trim().toLowerCase().replace(/\.$/, ''));
    verdict.trustedSealer = !!verdict.sealer && trusted.includes(verdict.sealer.domain);
  }
  // RFC 8617 registers none/pass/fail for "arc"; a temperror is written as fail with a reason.
  verdict.info = formatAuthHeaderRow('arc', { result: result === 'temperror' ? 'fail' : result, comment: comment ?? false });
  return verdict;
}

async function evaluateDmarc(
  ph: Phase,
  from: { addresses: string[]; domain: string | undefined },
  spf: SpfVerdict,
  dkim: DkimSignatureVerdict[],
): Promise<DmarcVerdict> {
  const bypass = ph.input.bypass ?? {};
  const fromDomain = from.domain;
  let dmarc: DmarcVerdict;
  if (bypass.dmarc || bypass.spf || bypass.dkim) {
    dmarc = { result: 'none', pct: 100, skipped: true, comment: bypass.dmarc ? 'bypassed' : 'skipped: SPF or DKIM was bypassed' };
    if (fromDomain) dmarc.domain = fromDomain;
    return dmarc;
  }
  if (!from.addresses.length) {
    dmarc = { result: 'permerror', pct: 100, comment: 'no RFC5322.From address' };
  } else if (!fromDomain) {
    dmarc = { result: 'permerror', pct: 100, comment: 'RFC5322.From has addresses in more than one domain' };
  } else {
    const passing = dkim.filter(d => d.result === 'pass');
    const res = await verifyDmarc({
      headerFrom: `postmaster@${fromDomain}`,
      spfDomains: spf.result === 'pass' ? [spf.domain] : [],
      dkimDomains: passing.map(d => ({ domain: d.domain })),
      resolver: trackedResolver(ph.input.resolver, 'dmarc', ph.failures, ph.timeoutMs),
    });
    if (!res) {
      dmarc = { result: 'permerror', pct: 100, domain: fromDomain, comment: 'could not evaluate' };
    } else {
      let result = res.status.result as DmarcResultValue;
      const p = asPolicy(res.p);
      const sp = asPolicy(res.sp) ?? p;
      // RFC 7489 6.6.3: a record whose p is missing or invalid is treated as p=none.
      const policy = res.rr ? (asPolicy(res.policy) ?? 'none') : undefined;
      const comments: string[] = [];
      if (policy) comments.push(`p=${(p ?? 'none').toUpperCase()} sp=${(sp ?? 'none').toUpperCase()}`);
      // Alignment is decided here: mailauth 4.9.5 passes its strict flag as an object,
      // which is always truthy and then still falls back to relaxed matching, so
      // adkim=s / aspf=s would never be enforced.
      const strictDkim = tagIs(res.rr, 'adkim', 's');
      const strictSpf = tagIs(res.rr, 'aspf', 's');
      const dkimAligned = passing.find(d => (strictDkim ? sameDomain(d.domain, fromDomain) : aligns(fromDomain, d.domain)));
      const spfAligned = spf.result === 'pass' && (strictSpf ? sameDomain(spf.domain, fromDomain) : aligns(fromDomain, spf.domain));
      if (res.rr && (result === 'pass' || result === 'fail')) result = dkimAligned || spfAligned ? 'pass' : 'fail';
      if (result === 'fail') {
        // A temporary error on an identifier that could have aligned means we do not know.
        const spfTemp = spf.result === 'temperror' && aligns(fromDomain, spf.domain);
        const dkimTemp = dkim.some(d => d.result === 'temperror' && aligns(fromDomain, d.domain));
        if (spfTemp || dkimTemp) {
          result = 'temperror';
          comments.push(`${spfTemp ? 'SPF' : 'DKIM'} temperror on an aligned identifier`);
        }
      }
      if (res.status.result === 'temperror') comments.push(`DNS failure looking up the DMARC record${res.error ? `: ${res.error}` : ''}`);
      dmarc = {
        result: (['pass', 'fail', 'none', 'temperror', 'permerror'] as const).includes(result) ? result : 'permerror',
        domain: fromDomain,
        orgDomain: res.domain,
        pct: pctOf(res.rr),
      };
      if (policy) dmarc.policy = policy;
      if (p) dmarc.p = p;
      if (sp) dmarc.sp = sp;
      if (res.rr) {
        dmarc.record = res.rr;
        dmarc.alignment = {
          spf: { strict: strictSpf, ...(spfAligned ? { domain: spf.domain } : {}) },
          dkim: { strict: strictDkim, ...(dkimAligned ? { domain: dkimAligned.domain } : {}) },
        };
      }
      if (comments.length) dmarc.comment = comments.join('; ');
    }
  }
  dmarc.info = formatAuthHeaderRow('dmarc', { result: dmarc.result, comment: dmarc.comment ?? false, header: { from: dmarc.domain ?? false } });
  return dmarc;
}

/**
 * SPF, DKIM, DMARC and ARC for one message, on the bytes as received. Never throws for
 * anything the sender controls; every DNS failure ends as a temperror in the verdict.
 */
export async function verifyMessage(input: VerifyInput): Promise<AuthVerdict> {
  const ph: Phase = { input, failures: [], timeoutMs: input.lookupTimeoutMs ?? 20_000, minBitLength: input.minRsaBits ?? 1024 };
  const bypass = input.bypass ?? {};
  const mailFrom = input.mailFrom.trim();

  // SPF needs only the envelope: its lookups run while the message is hashed.
  const spfPromise: Promise<SpfVerdict> = bypass.spf
    ? Promise.resolve({ result: 'none', identity: mailFrom ? 'mailfrom' : 'helo', domain: mailFrom ? domainOf(mailFrom) : input.helo, skipped: true })
    : checkSpf({ ...input, mailFrom, lookupTimeoutMs: ph.timeoutMs }, ph.failures);
  // DKIM (this pass also checks the newest ARC-Message-Signature and parses the ARC chain).
  // RFC 7208 2.3: the HELO identity too, on its own (reported and scored, never enforced).
  const heloPromise: Promise<SpfVerdict | undefined> =
    !bypass.spf && mailFrom && heloIsDomain(input.helo)
      ? checkHeloSpf({ ...input, lookupTimeoutMs: ph.timeoutMs }, ph.failures)
      : Promise.resolve(undefined);
  const [dkimRes, spf, spfHelo] = await Promise.all([
    dkimVerify(withoutBodyIfUnsigned(input.raw), {
      resolver: pkcs1KeyResolver(trackedResolver(input.resolver, 'dkim', ph.failures, ph.timeoutMs)),
      ...(mailFrom ? { sender: mailFrom } : {}),
      minBitLength: ph.minBitLength,
      ...(input.now ? { curTime: input.now } : {}),
    }),
    spfPromise,
    heloPromise,
  ]);
  const dkim: DkimSignatureVerdict[] = bypass.dkim ? [] : dkimRowsToVerdicts(dkimRes);

  const fromAddresses = dkimRes.headerFrom ?? [];
  const fromDomains = [...new Set(fromAddresses.map(domainOf).filter(Boolean))];
  const fromDomain = fromDomains.length === 1 ? fromDomains[0] : undefined;

  const [arc, dmarc] = await Promise.all([
    evaluateArc(ph, dkimRes, fromDomain),
    evaluateDmarc(ph, { addresses: fromAddresses, domain: fromDomain }, spf, dkim),
  ]);

  const rows: string[] = [];
  if (!bypass.dkim) rows.push(...(dkim.length ? dkim.map(d => d.info) : ['dkim=none (message not signed)']));
  if (spf.info) rows.push(spf.info);
  if (spfHelo?.info) rows.push(spfHelo.info);
  if (!dmarc.skipped && dmarc.info) rows.push(dmarc.info);
  if (arc.info) rows.push(arc.info);
  const authResults = buildAuthResults(input.authservId, rows);

  return {
    authservId: input.authservId,
    envelope: { clientIp: input.clientIp, helo: input.helo, mailFrom },
    from: { addresses: fromAddresses, ...(fromDomain ? { domain: fromDomain } : {}) },
    spf,
    ...(spfHelo ? { spfHelo } : {}),
    dkim,
    dmarc,
    arc,
    dnsTempFailures: ph.failures,
    authResults,
    authResultsHeader: `Authentication-Results: ${authResults}\r\n`,
  };
}

/** A signature header that makes mailauth's DKIM pass read the body (DKIM, or ARC's AMS and chain). */
const SIGNATURE_HEADER = /^(?:dkim-signature|arc-seal|arc-message-signature|arc-authentication-results)[ \t]*:/im;

/**
 * The DKIM pass also yields the From addresses and the ARC chain, so it runs for every
 * message; but without any signature header there is no body hash to compute, and the
 * header block alone gives the same result at a fraction of the cost (much spam is
 * unsigned).
 */
function withoutBodyIfUnsigned(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return raw;
  const head = raw.subarray(0, end + 4);
  return SIGNATURE_HEADER.test(head.toString('latin1')) ? raw : head;
}

// ---------------------------------------------------------------------------
// Removing forged Authentication-Results (RFC 8601 5)

/** The authserv-id an Authentication-Results value claims: first token/quoted-string after CFWS. */
export function authservIdOf(value: string): string | null {
  let i = 0;
  const n = value.length;
  const skipCfws = () => {
    for (;;) {
      while (i < n && /[ \t\r\n]/.test(value[i]!)) i++;
      if (value[i] !== '(') return;
      let depth = 0;
      while (i < n) {
        const c = value[i]!;
        if (c === '\\') i += 2;
        else {
          if (c === '(') depth++;
          else if (c === ')') depth--;
          i++;
          if (depth === 0) break;
        }
      }
    }
  };
  skipCfws();
  if (i >= n) return null;
  if (value[i] === '"') {
    let out = '';
    i++;
    while (i < n && value[i] !== '"') {
      if (value[i] === '\\' && i + 1 < n) i++;
      out += value[i];
      i++;
    }
    return out;
  }
  const m = /^[^\s;()"]+/.exec(value.slice(i));
  return m ? m[0] : null;
}

/**
 * Removes every Authentication-Results header field whose authserv-id is ours
 * (case-insensitive), folded continuation lines included. All other bytes, the body
 * and the line endings stay exactly as they were.
 */
export function stripOurAuthResults(raw: Buffer, authservId: string): Buffer {
  const ours = authservId.trim().toLowerCase();
  // Header section: up to the first empty line (CRLF or bare LF).
  const text = raw.toString('latin1');
  let headerEnd = text.length;
  const m = /\r?\n\r?\n/.exec(text);
  if (m) headerEnd = m.index + m[0].length;
  if (text.startsWith('\r\n') || text.startsWith('\n')) return raw; // no header section
  const head = text.slice(0, headerEnd);

  // Split into fields: a field starts at a line that does not begin with WSP.
  const keep: Array<[number, number]> = [];
  let changed = false;
  let pos = 0;
  while (pos < head.length) {
    let end = pos;
    for (;;) {
      const nl = head.indexOf('\n', end);
      end = nl < 0 ? head.length : nl + 1;
      const next = head[end];
      if (end >= head.length || (next !== ' ' && next !== '\t')) break;
    }
    const field = head.slice(pos, end);
    const colon = field.indexOf(':');
    let drop = false;
    if (colon > 0 && field.slice(0, colon).trim().toLowerCase() === 'authentication-results') {
      const id = authservIdOf(field.slice(colon + 1));
      drop = id !== null && id.toLowerCase() === ours;
    }
    if (drop) changed = true;
    else keep.push([pos, end]);
    pos = end;
  }
  if (!changed) return raw;
  const parts = keep.map(([a, b]) => raw.subarray(a, b));
  parts.push(raw.subarray(headerEnd));
  return Buffer.concat(parts);
}
