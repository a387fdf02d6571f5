// Tokens for the Bayes classifier, in the SpamBayes tradition: words of the decoded body
// (HTML reduced to its visible text, URLs reduced to their host names), and from the
// headers a set of prefixed tokens (subject words, sender and recipient domains, hosts
// and networks from the Received chain, mailer, content types, header names). Each
// message yields a set: a token counts once however often it appears.
import type { SpamInput } from './types.ts';
import type { ScanContext } from './context.ts';
import { baseDomain, isIpHost } from './urls.ts';

export interface TokenizerOptions {
  /** Most distinct tokens taken from one message (headers first, then body). Default 3000. */
  maxTokens?: number;
  /** Shortest body word kept. Default 3. */
  minWordLength?: number;
  /** Longest body word kept as itself; longer ones become a "skip" token. Default 20. */
  maxWordLength?: number;
  /** Body characters tokenized. Default 128 KiB. */
  maxBodyChars?: number;
}

const DEFAULTS: Required<TokenizerOptions> = { maxTokens: 3000, minWordLength: 3, maxWordLength: 20, maxBodyChars: 128 * 1024 };

const URL_RE = /\b(?:(?:https?|ftp):\/\/|www\.)[^\s<>"'`]+/gi;
// Bounded before the "@" so that a long run of letters cannot make the search quadratic.
const EMAIL_RE = /[\p{L}\p{N}._%+-]{1,64}@([\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){1,8})/gu;
const LEAD_PUNCT = /^[^\p{L}\p{N}$£€]+/u;
const TRAIL_PUNCT = /[^\p{L}\p{N}!%]+$/u;
const IP_IN_RCVD = /\[?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\]?/g;
const HOST_IN_RCVD = /\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})\b/gi;

class TokenSet {
  readonly set = new Set<string>();
  constructor(private readonly max: number) {}
  get full(): boolean {
    return this.set.size >= this.max;
  }
  add(t: string): void {
    if (this.set.size < this.max) this.set.add(t);
  }
}

function addressDomain(address: string | undefined): string | null {
  if (!address) return null;
  const at = address.lastIndexOf('@');
  return at >= 0 ? address.slice(at + 1).toLowerCase().slice(0, 80) : null;
}

/** The shape of a string: runs of digits become 9, of upper-case A, of lower-case a. */
export function shape(s: string, max = 40): string {
  return s
    .slice(0, 200)
    .replace(/[0-9]+/g, '9')
    .replace(/[A-Z]+/g, 'A')
    .replace(/[a-z]+/g, 'a')
    .slice(0, max);
}

function bucket(n: number): string {
  if (n <= 1) return String(n);
  if (n <= 3) return '2-3';
  if (n <= 10) return '4-10';
  if (n <= 50) return '11-50';
  return '50+';
}

function words(text: string, ts: TokenSet, prefix: string, o: Required<TokenizerOptions>): void {
  for (const raw of text.split(/\s+/)) {
    if (ts.full) return;
    if (!raw) continue;
    const bare = raw.replace(LEAD_PUNCT, '').replace(TRAIL_PUNCT, '');
    // Words in capitals stay apart from the same words in lower case (as SpamAssassin does).
    const w = bare.length >= 3 && /^[^a-z]*[A-Z][^a-z]*$/.test(bare) ? bare : bare.toLowerCase();
    const len = w.length;
    if (len < o.minWordLength) continue;
    if (len > o.maxWordLength) {
      ts.add(`${prefix}skip:${w[0]}:${Math.floor(len / 10) * 10}`);
      continue;
    }
    ts.add(prefix + w);
    // A word with inner punctuation also counts by its parts ("free/cheap", "you're").
    if (/[^\p{L}\p{N}]/u.test(w)) {
      for (const part of w.split(/[^\p{L}\p{N}$]+/u)) {
        if (part.length >= o.minWordLength && part.length <= o.maxWordLength) ts.add(prefix + part);
      }
    }
  }
}

function hostTokens(prefix: string, host: string, ts: TokenSet): void {
  const h = host.toLowerCase().slice(0, 100);
  if (!h) return;
  if (isIpHost(h)) {
    ts.add(`${prefix}ip`);
    return;
  }
  ts.add(prefix + h);
  const base = baseDomain(h);
  if (base !== h) ts.add(prefix + base);
  const tld = h.slice(h.lastIndexOf('.') + 1);
  if (tld && tld !== h) ts.add(`${prefix}tld:${tld}`);
}

function headerTokens(input: SpamInput, ctx: ScanContext, ts: TokenSet, o: Required<TokenizerOptions>): void {
  const p = input.parsed;

  const subject = (p.subject ?? '').slice(0, 400);
  if (!subject) ts.add('subject:none');
  words(subject, ts, 'subject:', { ...o, minWordLength: 1 });
  for (const run of subject.match(/[!?$%*]{2,}/g) ?? []) ts.add(`subject:punct:${run.slice(0, 6)}`);

  const from = p.from && p.from.address !== undefined ? p.from : p.from?.group?.[0];
  if (from) {
    const address = (from.address ?? '').toLowerCase().slice(0, 100);
    ts.add(`from:addr:${address}`);
    const dom = addressDomain(address);
    if (dom) hostTokens('from:dom:', dom, ts);
    const local = address.slice(0, address.lastIndexOf('@'));
    ts.add(`from:local:${shape(local, 20)}`);
    if (from.name) words(from.name.slice(0, 100), ts, 'from:name:', { ...o, minWordLength: 2 });
    else ts.add('from:noname');
  } else {
    ts.add('from:none');
  }

  const fromDom = addressDomain(from?.address);
  for (const r of (p.replyTo ?? []).slice(0, 3)) {
    const d = addressDomain(r.address);
    if (d) {
      ts.add(`replyto:dom:${d}`);
      ts.add(d === fromDom ? 'replyto:same' : 'replyto:differs');
    }
  }

  for (const [key, list] of [['to', p.to], ['cc', p.cc]] as const) {
    const addrs = (list ?? []).flatMap((a) => (a.group ? a.group : [a]));
    ts.add(`${key}:n:${bucket(addrs.length)}`);
    for (const a of addrs.slice(0, 5)) {
      const d = addressDomain(a.address);
      if (d) ts.add(`${key}:dom:${d}`);
    }
  }

  // Hosts, networks and protocols of the most recent hops.
  for (const h of ctx.headers('received').slice(0, 8)) {
    const v = h.slice(0, 600);
    const semi = v.lastIndexOf(';');
    const body = (semi >= 0 ? v.slice(0, semi) : v).toLowerCase();
    for (const m of body.matchAll(IP_IN_RCVD)) {
      ts.add(`rcvd:ip:${m[1]}.${m[2]}.${m[3]}`);
      ts.add(`rcvd:ip:${m[1]}.${m[2]}`);
    }
    for (const m of body.matchAll(HOST_IN_RCVD)) {
      const host = m[1]!;
      if (!/[a-z]/.test(host.slice(host.lastIndexOf('.') + 1))) continue;
      ts.add(`rcvd:host:${baseDomain(host)}`);
    }
    const w = /\bwith\s+([a-z0-9/-]+)/.exec(body);
    if (w) ts.add(`rcvd:with:${w[1]!.slice(0, 20)}`);
  }
  ts.add(`rcvd:n:${bucket(ctx.headers('received').length)}`);

  for (const name of ['x-mailer', 'user-agent']) {
    const v = ctx.header(name);
    if (!v) continue;
    const lower = v.toLowerCase().slice(0, 60);
    ts.add(`${name}:${lower}`);
    ts.add(`${name}:${lower.replace(/[0-9][0-9.a-z]*/g, '9').split(/\s+/).slice(0, 3).join(' ')}`);
  }

  const mid = ctx.header('message-id');
  if (mid) {
    const m = /<?([^@<>]*)@([^>]*)>?/.exec(mid);
    if (m) {
      ts.add(`mid:shape:${shape(m[1]!)}`);
      ts.add(`mid:dom:${m[2]!.toLowerCase().slice(0, 60)}`);
    } else {
      ts.add('mid:noat');
    }
  } else {
    ts.add('mid:none');
  }

  const date = ctx.header('date');
  if (date) {
    const z = /([+-]\d{4}|[a-z]{1,5})\s*(?:\([^)]*\))?\s*$/i.exec(date);
    ts.add(`date:tz:${z ? z[1]!.toLowerCase() : 'none'}`);
  } else {
    ts.add('date:none');
  }

  for (const name of ['precedence', 'importance', 'x-priority', 'x-msmail-priority']) {
    const v = ctx.header(name);
    if (v) ts.add(`${name}:${v.toLowerCase().slice(0, 20)}`);
  }

  let n = 0;
  for (const name of new Set(ctx.headerNames())) {
    if (name.length <= 40) ts.add(`hdr:${name}`);
    if (++n >= 80) break;
  }

  for (const part of ctx.mimeParts) {
    ts.add(`ct:${part.contentType}`);
    if (part.charset) ts.add(`charset:${part.charset}`);
    if (part.encoding) ts.add(`cte:${part.encoding}`);
  }

  for (const a of p.attachments.slice(0, 20)) {
    ts.add(`att:type:${a.mimeType.toLowerCase().slice(0, 60)}`);
    const ext = a.filename ? /\.([a-z0-9]{1,8})$/i.exec(a.filename.trim()) : null;
    if (ext) ts.add(`att:ext:${ext[1]!.toLowerCase()}`);
  }
}

function bodyTokens(ctx: ScanContext, ts: TokenSet, o: Required<TokenizerOptions>): void {
  const html = ctx.html;
  if (html) {
    let n = 0;
    for (const t of html.tags) {
      if (t.length <= 20) ts.add(`html:${t}`);
      if (++n >= 40) break;
    }
    if (html.hiddenText) ts.add('html:hiddentext');
    ts.add(`html:img:${bucket(html.images)}`);
    if (ctx.htmlOnly) ts.add('html:only');
  }
  const urls = ctx.urls;
  ts.add(`url:n:${bucket(urls.length)}`);
  for (const u of urls.slice(0, 50)) {
    hostTokens('url:', u.host, ts);
    if (u.scheme !== 'http') ts.add(`url:scheme:${u.scheme}`);
    // Pieces of the path and query (SpamBayes "crack_urls"): remove.cgi, optout, ref ids.
    const rest = u.url.replace(/^[a-z]+:\/\/[^/?#]*/i, '').slice(0, 200).toLowerCase();
    for (const piece of rest.split(/[/?#&=.\-_+%:;,]+/)) {
      if (piece.length >= 3 && piece.length <= 20 && !/^\d+$/.test(piece)) ts.add(`url:path:${piece}`);
    }
  }

  let text = ctx.text;
  if (text.length > o.maxBodyChars) text = text.slice(0, o.maxBodyChars);
  text = text.replace(URL_RE, ' ');
  text = text.replace(EMAIL_RE, (_m, dom: string) => {
    ts.add(`email:${dom.toLowerCase().slice(0, 80)}`);
    return ' ';
  });
  if (!text.trim()) ts.add('body:empty');
  words(text, ts, '', o);
}

/** The distinct tokens of a message (at most `maxTokens`). */
export function tokenize(input: SpamInput, ctx: ScanContext, options: TokenizerOptions = {}): string[] {
  const o = { ...DEFAULTS, ...options };
  const ts = new TokenSet(o.maxTokens);
  headerTokens(input, ctx, ts, o);
  bodyTokens(ctx, ts, o);
  return [...ts.set];
}
