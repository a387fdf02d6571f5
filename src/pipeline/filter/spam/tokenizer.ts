// Tokens for the Bayes classifier, in the SpamBayes tradition: words of the decoded body
// (HTML reduced to its visible text, URLs reduced to their host names), optionally pairs
// of adjacent words, and from the headers a set of prefixed tokens (subject words, sender
// and recipient domains, hosts and networks from the Received chain and of the SMTP
// client, mailer, content types, header names). Each message yields a set: a token counts
// once however often it appears.
//
// Chi-square combining treats every token as an independent witness, so the tokenizer
// avoids families of tokens that always travel together and say the same thing: it does
// not emit one token per HTML element (<html>, <body>, <table>, <td>, <font> ... come as a
// set with any HTML mail, and a dozen of them outvoted the words of HTML newsletters), and
// it leaves out the headers that mailing lists, mail stores and filters add (List-*,
// X-Mailman-Version, Sender, X-Spam-*), as SpamAssassin's Bayes does: they say which lists
// a user reads, which is ham evidence spam sent to those lists also carries. For the same
// reason word pairs are off by default: each pair repeats the evidence of its two words,
// so a message's evidence is counted two and three times over and chi-square pushes both
// its spam and its ham evidence to certainty, leaving it "unsure" (cross-validation:
// pairs put a tenth of the spam in the unsure middle; without them, half as many).
import type { SpamInput } from './types.ts';
import type { ScanContext } from './context.ts';
import { baseDomain, isIpHost } from './urls.ts';

export interface TokenizerOptions {
  /** Most distinct tokens taken from one message (headers first, then body). Default 3000. */
  maxTokens?: number;
  /** Shortest body word kept. Default 3. */
  minWordLength?: number;
  /**
   * Longest body word kept as itself; longer ones become a "skip" token (first letter and
   * length in tens). Default 12, as SpamBayes: longer "words" are mostly run-together
   * markup, encoded data and tracking ids, unique to one message.
   */
  maxWordLength?: number;
  /** Body characters tokenized. Default 128 KiB. */
  maxBodyChars?: number;
  /**
   * Also emit each pair of adjacent body words ("bi:free shipping"). Pairs carry the
   * phrasing ("act now", "dear friend", "to be removed") that single words lose, but
   * repeat the evidence of their words (see the note at the top). Default false.
   */
  bigrams?: boolean;
}

const DEFAULTS: Required<TokenizerOptions> = { maxTokens: 3000, minWordLength: 3, maxWordLength: 12, maxBodyChars: 128 * 1024, bigrams: false };

const URL_RE = /\b(?:(?:https?|ftp):\/\/|www\.)[^\s<>"'`]+/gi;
// Bounded before the "@" so that a long run of letters cannot make the search quadratic.
// Starts only where a local part can start: without the lookbehind the engine retries at
// every character of a long run of letters (a 100 KiB body of them took 10 ms).
const EMAIL_RE = /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]{1,64}@([\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){1,8})/gu;
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

/** The eight groups of an IPv6 address ("::" expanded, leading zeros dropped), or null. */
export function ipv6Groups(ip: string): string[] | null {
  const a = ip.toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!/^[0-9a-f:]+$/.test(a) || !a.includes(':')) return null;
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
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

// Han ideographs and Japanese kana: these scripts write no spaces between words.
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]{2,}/gu;
const HAS_CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/**
 * Text in Chinese or Japanese has no spaces to split on: a sentence would be one long
 * "word" (a skip token). Overlapping pairs of characters stand in for its words, the usual
 * way to index such text.
 */
function cjkTokens(raw: string, ts: TokenSet, prefix: string): string {
  for (const m of raw.matchAll(CJK_RUN)) {
    const run = [...m[0]].slice(0, 200);
    for (let i = 0; i + 1 < run.length; i++) ts.add(`${prefix}${run[i]}${run[i + 1]}`);
  }
  return raw.replace(CJK_RUN, ' ');
}

function words(text: string, ts: TokenSet, prefix: string, o: Required<TokenizerOptions>): void {
  for (let raw of text.split(/\s+/)) {
    if (ts.full) return;
    if (!raw) continue;
    if (HAS_CJK.test(raw)) {
      raw = cjkTokens(raw, ts, prefix).trim();
      if (raw.includes(' ')) {
        words(raw, ts, prefix, o);
        continue;
      }
    }
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

/** Pairs of adjacent words, lower case; a word too short or too long breaks the chain. */
function bigrams(text: string, ts: TokenSet, o: Required<TokenizerOptions>): void {
  let prev = '';
  for (const raw of text.split(/\s+/)) {
    if (ts.full) return;
    const w = raw.replace(LEAD_PUNCT, '').replace(TRAIL_PUNCT, '').toLowerCase();
    if (w.length < 2 || w.length > o.maxWordLength || HAS_CJK.test(w)) {
      prev = '';
      continue;
    }
    if (prev) ts.add(`bi:${prev} ${w}`);
    prev = w;
  }
}

/**
 * The writing systems of the body, as tokens ("script:cyrillic"), for each that holds at
 * least a tenth of its letters. What a site receives in which language is its own
 * business; the classifier learns it (as SpamAssassin's ok_languages does by hand).
 */
function scriptTokens(text: string, ts: TokenSet): void {
  const counts = new Map<string, number>();
  let letters = 0;
  const n = Math.min(text.length, 16 * 1024);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let script: string | null = null;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7)) script = 'latin';
    else if (c < 0x370) continue;
    else if (c <= 0x3ff) script = 'greek';
    else if (c <= 0x52f) script = 'cyrillic';
    else if (c >= 0x590 && c <= 0x5ff) script = 'hebrew';
    else if (c >= 0x600 && c <= 0x6ff) script = 'arabic';
    else if (c >= 0x900 && c <= 0xdff) script = 'indic';
    else if (c >= 0xe00 && c <= 0xe7f) script = 'thai';
    else if ((c >= 0x3040 && c <= 0x30ff) || (c >= 0x31f0 && c <= 0x31ff)) script = 'kana';
    else if ((c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff)) script = 'han';
    else if ((c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff)) script = 'hangul';
    else continue;
    letters++;
    counts.set(script, (counts.get(script) ?? 0) + 1);
  }
  if (letters === 0) return;
  for (const [script, k] of counts) if (k * 10 >= letters) ts.add(`script:${script}`);
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

/**
 * Headers whose names are not tokens: written by mailing lists (a list a user reads would
 * become a ham sign that spam sent to the list carries too), by mail stores and delivery
 * (nothing to do with the sender), by spam and virus filters on the way. After
 * SpamAssassin's Bayes IGNORED_HDRS.
 */
const IGNORED_HEADERS =
  /^(?:x-)?(?:list-[a-z-]+|mailing-list|x-list[a-z-]*|x-mailman-version|x-beenthere|x-loop|mail-followup-to|x-egroups-[a-z-]+|x-unsub(?:scribe)?|errors-to|precedence|sender|x-sender|resent-[a-z-]+|original-[a-z-]+|x-original-[a-z-]+|delivered-to|delivery-date|envelope-to|x-envelope-to|x-mime-autoconverted|x-converted-to-plain-text|x-mailscanner[a-z-]*|x-spam[a-z-]*|x-virus-scanned|x-antispam|x-antivirus[a-z-]*|x-scanned-by|x-filtered-by|status|x-status|x-keywords|x-uidl?|x-flags|lines|content-length|return-path|x-bugzilla-[a-z-]+|xref|x-gnus-[a-z-]+|x-vm-[a-z-]+|x-imapbase)$/;

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

  // The SMTP client, as the gateway saw it: its network and the name it greeted with.
  // These are the hop SpamAssassin's Bayes reads from the first untrusted Received header.
  const env = input.envelope;
  if (env?.clientIp) {
    const o = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(env.clientIp);
    if (o) {
      ts.add(`client:ip:${o[1]}.${o[2]}.${o[3]}`);
      ts.add(`client:ip:${o[1]}.${o[2]}`);
    } else {
      // IPv6: the /32 and /48 a provider and a site are usually given.
      const groups = ipv6Groups(env.clientIp);
      if (groups) {
        ts.add(`client:ip6:${groups.slice(0, 2).join(':')}`);
        ts.add(`client:ip6:${groups.slice(0, 3).join(':')}`);
      }
    }
  }
  if (env?.helo) {
    const helo = env.helo.toLowerCase().replace(/^\[|\]$/g, '').slice(0, 100);
    if (isIpHost(helo)) ts.add('helo:ip');
    else if (!helo.includes('.')) ts.add('helo:nodot');
    else ts.add(`helo:${baseDomain(helo)}`);
  }

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
    if (IGNORED_HEADERS.test(name)) continue;
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
    // What the HTML does, not which elements lay it out (see the note at the top).
    if (html.hiddenText) ts.add('html:hiddentext');
    ts.add(`html:img:${bucket(html.images)}`);
    if (ctx.htmlOnly) ts.add('html:only');
    if (html.forms) ts.add('html:form');
    if (html.scripts) ts.add('html:script');
    if (html.iframes) ts.add('html:iframe');
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
  if (text.includes('@')) {
    text = text.replace(EMAIL_RE, (_m, dom: string) => {
      ts.add(`email:${dom.toLowerCase().slice(0, 80)}`);
      return ' ';
    });
  }
  if (!text.trim()) ts.add('body:empty');
  scriptTokens(text, ts);
  words(text, ts, '', o);
  // Text the reader does not see (bayes poison, keyword stuffing) counts apart from the
  // visible words, as SpamAssassin's "I*:" tokens.
  const hidden = html?.hiddenText;
  if (hidden) words(hidden.slice(0, 16 * 1024), ts, 'hidden:', o);
  if (o.bigrams) bigrams(text, ts, o);
}

/** The distinct tokens of a message (at most `maxTokens`). */
export function tokenize(input: SpamInput, ctx: ScanContext, options: TokenizerOptions = {}): string[] {
  const o = { ...DEFAULTS, ...options };
  const ts = new TokenSet(o.maxTokens);
  headerTokens(input, ctx, ts, o);
  bodyTokens(ctx, ts, o);
  return [...ts.set];
}
