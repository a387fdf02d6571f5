// The message as SpamAssassin's rule types see it, built lazily once per message:
//  - header values: unfolded, trimmed, MIME words decoded, each ending in "\n", all
//    values of a name joined (Message::Node::get_header); :raw, :addr, :name, :first,
//    :last, :host, :domain; the pseudo headers ALL, ToCc, MESSAGEID, EnvelopeFrom and
//    X-Spam-Relays-*;
//  - body: the Subject, then the text of every text/plain and text/html leaf part
//    (HTML rendered), blank-line-separated paragraphs with whitespace collapsed, one
//    "line" per paragraph (Message::get_rendered_body_text_array);
//  - rawbody: each text part transfer-decoded but not rendered, in chunks;
//  - full: the whole message as received; uri: the links of the text and the HTML.
// Texts are UTF-8 octets held one byte per character (latin1), as Perl holds them, so
// that patterns written as byte sequences in rule files match the same bytes.
import { decodeWords } from 'postal-mime';
import { analyzeHtml, type HtmlInfo } from '../html.ts';
import { allParts, leafParts, parseHeaderBlock, parseMime, splitHeaderBody, type SaMimePart } from './mime.ts';
import { parseRelays, relayString, type SaRelay } from './relays.ts';

export const MAX_BODY_LINE_LENGTH = 2048;
/** Body text beyond this many bytes is not looked at (SpamAssassin's body_part_scan_size is 50,000 per part). */
const BODY_PART_SCAN_SIZE = 50_000;
const RAWBODY_PART_SCAN_SIZE = 500_000;
/** What a header rule sees of one header request (all its values together). */
const HEADER_SCAN_SIZE = 64 * 1024;

/** UTF-8 octets of a JS string, one character per byte. */
export function toOctets(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

function decodeCharset(bytes: string, charset: string | null): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(bytes)) return bytes;
  const buf = Buffer.from(bytes, 'latin1');
  const cs = (charset ?? '').toLowerCase();
  for (const c of [cs || 'utf-8', 'windows-1252']) {
    try {
      return new TextDecoder(c, { fatal: true }).decode(buf);
    } catch {
      /* next */
    }
  }
  return bytes;
}

/** Splits long text into pieces as SpamAssassin's split_into_array_of_short_paragraphs. */
export function shortParagraphs(text: string): string[] {
  const max = MAX_BODY_LINE_LENGTH;
  if (text.length <= max) return [text];
  const out: string[] = [];
  let ofs = 0;
  for (; text.length - ofs > 2 * max; ) {
    let j = text.indexOf('\n', ofs + max);
    if (j < 0 || j - ofs + 1 > 2 * max) {
      j = text.indexOf('>', ofs + max);
      if (j < 0 || j - ofs + 1 > 2 * max) {
        j = text.indexOf(' ', ofs + max);
        if (j < 0 || j - ofs + 1 > 2 * max) j = ofs + max;
      }
    }
    out.push(text.slice(ofs, j + 1));
    ofs = j + 1;
  }
  if (ofs < text.length) out.push(text.slice(ofs));
  return out;
}

function truncate(s: string, size: number): string {
  if (s.length <= size) return s;
  const nl = s.indexOf('\n', size);
  if (nl >= 0 && nl - size <= 1024) return s.slice(0, nl + 1);
  const sp = s.indexOf(' ', size);
  if (sp >= 0 && sp - size <= 1024) return s.slice(0, sp + 1);
  return s.slice(0, size);
}

const URL_RE = /\b(?:(?:https?|ftp):\/\/|www\d{0,3}\.|ftp\.)[^\s<>"'()[\]{}]+/gi;
const EMAIL_RE = /\b[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b/gi;
const ATTR_URL_RE = /<(?:a|area|link|base|img|frame|iframe|form|embed|body|table|td|th|input|script|bgsound)\b[^>]*?\b(?:href|src|action|background|lowsrc)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;

export interface SaEnvelope {
  mailFrom?: string;
  helo?: string;
  clientIp?: string;
}

export class SaMessage {
  readonly raw: string;
  readonly head: string;
  private headerMap: Map<string, string[]> | null = null;
  private rootPart: SaMimePart | undefined;
  private bodyLines: string | undefined;
  private rawParts: string[] | undefined;
  private uriList: string[] | undefined;
  private getCache = new Map<string, string | undefined>();
  private htmlCache = new Map<SaMimePart, HtmlInfo>();
  private relaysCache: { trusted: SaRelay[]; untrusted: SaRelay[] } | undefined;

  /** The message with CRLF line ends turned into LF, as SpamAssassin parses it ("full" rules see `raw`). */
  private readonly lf: string;

  constructor(rawBytes: Buffer, readonly envelope: SaEnvelope = {}) {
    this.raw = rawBytes.toString('latin1');
    this.lf = this.raw.includes('\r\n') ? this.raw.replace(/\r\n/g, '\n') : this.raw;
    this.head = splitHeaderBody(this.lf).head;
  }

  private lowerCache = new Map<string, string>();

  /** `text` lowercased, kept under `key` for the rules that follow (the prefilter compares lowercase). */
  lower(key: string, text: string): string {
    let l = this.lowerCache.get(key);
    if (l === undefined) {
      l = text.toLowerCase();
      this.lowerCache.set(key, l);
    }
    return l;
  }

  /** Raw (folded) values by lowercase name, in message order. */
  rawHeaders(name: string): string[] {
    if (!this.headerMap) {
      this.headerMap = new Map();
      for (const h of parseHeaderBlock(this.head)) {
        const list = this.headerMap.get(h.name);
        if (list) list.push(h.value);
        else this.headerMap.set(h.name, [h.value]);
      }
    }
    return this.headerMap.get(name.toLowerCase()) ?? [];
  }

  /** Header names in message order (as written). */
  headerLines(): { name: string; value: string }[] {
    const out: { name: string; value: string }[] = [];
    for (const line of this.head.split(/\r?\n(?![ \t])/)) {
      const c = line.indexOf(':');
      if (c > 0 && !/\s/.test(line.slice(0, c))) out.push({ name: line.slice(0, c), value: line.slice(c + 1) });
    }
    return out;
  }

  /** A decoded value: unfolded, trimmed, MIME words decoded (as UTF-8 octets). */
  static decodeValue(raw: string): string {
    let v = raw.replace(/\r?\n[ \t]+/g, ' ').replace(/\r?\n/g, ' ').trim();
    if (v.includes('=?')) {
      try {
        // decodeWords reads the bytes as latin1 text; its result goes back to octets.
        v = toOctets(decodeWords(v));
      } catch {
        /* keep as is */
      }
    }
    return v;
  }

  decodedHeaders(name: string): string[] {
    return this.rawHeaders(name).map((v) => SaMessage.decodeValue(v));
  }

  get mime(): SaMimePart {
    if (!this.rootPart) this.rootPart = parseMime(this.lf);
    return this.rootPart;
  }

  get parts(): SaMimePart[] {
    return allParts(this.mime);
  }

  get leaves(): SaMimePart[] {
    return leafParts(this.mime);
  }

  /** A text/html part read once. */
  html(p: SaMimePart): HtmlInfo {
    let h = this.htmlCache.get(p);
    if (!h) {
      h = analyzeHtml(decodeCharset(p.decoded, p.charset));
      this.htmlCache.set(p, h);
    }
    return h;
  }

  /** The HTML of each text/html leaf. */
  get htmlParts(): HtmlInfo[] {
    return this.leaves.filter((p) => p.type === 'text/html').map((p) => this.html(p));
  }

  get relays(): { trusted: SaRelay[]; untrusted: SaRelay[] } {
    if (!this.relaysCache) this.relaysCache = parseRelays(this.rawHeaders('received'));
    return this.relaysCache;
  }

  /**
   * What a header rule matches against (PerMsgStatus::get): the values joined, each
   * ending in "\n"; undefined when the header is absent.
   */
  get(request: string): string | undefined {
    if (this.getCache.has(request)) return this.getCache.get(request);
    let v = this.compute(request);
    // Header rules look at the first HEADER_SCAN_SIZE bytes of a value (Postfix cuts a
    // header at 100 KiB, header_size_limit): every header rule over a Subject of 900 KB
    // (issue 12) cost most of a second.
    if (v !== undefined && v.length > HEADER_SCAN_SIZE) v = truncate(v, HEADER_SCAN_SIZE);
    this.getCache.set(request, v);
    return v;
  }

  private compute(request: string): string | undefined {
    const mods = new Set<string>();
    let name = request;
    const colon = request.indexOf(':');
    if (colon >= 0) {
      name = request.slice(0, colon);
      for (const m of request.slice(colon + 1).split(':')) mods.add(m);
    }
    const raw = mods.has('raw');
    const addr = mods.has('addr');
    const dispName = mods.has('name');
    const values = (h: string): string[] =>
      raw || addr || dispName ? this.rawHeaders(h).map((v) => v.replace(/\r?\n\s+/g, ' ').replace(/^[ \t]+/, '')) : this.decodedHeaders(h);
    let results: string[];
    const lc = name.toLowerCase();
    if (name === 'ALL') {
      const lines = this.headerLines();
      return lines.map((l) => `${l.name}:${raw ? l.value : ` ${SaMessage.decodeValue(l.value)}`}\n`).join('');
    } else if (lc === 'envelopefrom') {
      const ef = this.envelopeFrom();
      results = ef ? [ef] : [];
    } else if (lc === 'tocc') {
      results = [...values('to'), ...values('cc')];
    } else if (name === 'MESSAGEID') {
      results = [...values('x-message-id'), ...values('resent-message-id'), ...values('x-original-message-id'), ...values('message-id')].filter(Boolean);
    } else if (lc.startsWith('x-spam-relays-')) {
      const r = this.relays;
      const which = lc.slice('x-spam-relays-'.length);
      const list = which === 'trusted' || which === 'internal' ? r.trusted : which === 'untrusted' || which === 'external' ? r.untrusted : null;
      if (!list) results = [];
      else results = [list.map(relayString).join(' ')];
    } else results = values(lc);
    if (!results.length) return undefined;
    if (mods.has('first')) results = [results[0]!];
    else if (mods.has('last')) results = [results[results.length - 1]!];
    if (addr || dispName) {
      const out: string[] = [];
      for (const line of results) {
        for (const a of parseAddresses(line)) {
          if (addr && a.address) out.push(a.address);
          else if (dispName && a.name !== null) {
            let d = SaMessage.decodeValue(a.name).replace(/\s+/g, ' ').trim();
            d = d.replace(/^'(.*?)'$/, '$1');
            out.push(d);
          }
        }
      }
      results = out;
      if (!results.length) return undefined;
    }
    if (mods.has('host') || mods.has('domain')) {
      const out: string[] = [];
      for (const line of results) {
        const m = /@([\w.-]+\.[a-z]{2,})/i.exec(line) ?? /(?<![._-])\b([\w-]+(?:\.[\w-]+)*\.[a-z]{2,})\b(?![._-])/i.exec(line);
        if (m) out.push(mods.has('domain') ? registrableDomain(m[1]!) : m[1]!);
      }
      results = out;
      if (!results.length) return undefined;
    }
    // Check.pm joins the values with "\n" unless they end in one: decoded values do, the
    // addresses, names and hosts do not (so /\s/ on From:addr sees no newline).
    if (addr || dispName || mods.has('host') || mods.has('domain')) return results.join('\n');
    return results.map((v) => (v.endsWith('\n') ? v : `${v}\n`)).join('');
  }

  envelopeFrom(): string | undefined {
    if (this.envelope.mailFrom) return this.envelope.mailFrom;
    for (const h of ['return-path', 'x-envelope-from', 'envelope-from']) {
      const v = this.rawHeaders(h)[0];
      if (v) {
        const m = /<?([^<>\s]*@[^<>\s]*)>?/.exec(v);
        if (m) return m[1];
      }
    }
    return undefined;
  }

  /** Body "lines" (paragraphs) joined with "\n", Subject first. */
  get body(): string {
    if (this.bodyLines === undefined) {
      let text = '';
      for (const p of this.leaves) {
        if (text !== '') text += '\n';
        let rnd: string | null = null;
        if (p.type === 'text/plain') rnd = decodeCharset(p.decoded, p.charset);
        else if (p.type === 'text/html') {
          const h = this.html(p);
          rnd = h.hiddenText ? `${h.visibleText}\n${h.hiddenText}` : h.visibleText;
        }
        if (rnd !== null) text += truncate(rnd, BODY_PART_SCAN_SIZE);
      }
      text = text.replace(/\n+\s*\n+/g, '\x00').replace(/\s+/g, ' ').replace(/\x00/g, '\n');
      // The Subject leads the body text, bounded as a part is: a Subject of 900 KB (issue 12)
      // had every body rule run over all of it.
      const subject = truncate(this.get('Subject') ?? '\n', BODY_PART_SCAN_SIZE);
      // SpamAssassin matches each line (with its "\n") on its own; line-mode regexes
      // run over the lines joined, which is the same text.
      this.bodyLines = toOctets(subject + text);
    }
    return this.bodyLines;
  }

  /** Transfer-decoded text parts, in chunks (rawbody rules run on each). */
  get rawbody(): string[] {
    if (!this.rawParts) {
      const out: string[] = [];
      for (const p of this.leaves) {
        if (!/^(?:text|message)\b/.test(p.type) || p.type === 'text/calendar') continue;
        for (const chunk of shortParagraphs(truncate(p.decoded, RAWBODY_PART_SCAN_SIZE))) out.push(chunk);
      }
      this.rawParts = out;
    }
    return this.rawParts;
  }

  /** URIs of the message, as uri rules see them. */
  get uris(): string[] {
    if (!this.uriList) {
      const seen = new Set<string>();
      const add = (u: string) => {
        let v = u.trim().replace(/[.,;:!?]+$/, '');
        if (!v) return;
        if (/^www\d{0,3}\./i.test(v)) v = `http://${v}`;
        else if (/^ftp\./i.test(v)) v = `ftp://${v}`;
        if (seen.size < 500) seen.add(v);
      };
      for (const p of this.leaves) {
        if (!p.type.startsWith('text/')) continue;
        const text = p.decoded.slice(0, RAWBODY_PART_SCAN_SIZE);
        if (p.type === 'text/html') {
          for (const m of text.matchAll(ATTR_URL_RE)) add(decodeHtmlAttr(m[1] ?? m[2] ?? m[3] ?? ''));
          const h = this.html(p);
          for (const m of h.visibleText.matchAll(URL_RE)) add(m[0]);
        } else {
          for (const m of text.matchAll(URL_RE)) add(m[0]);
          for (const m of text.matchAll(EMAIL_RE)) add(`mailto:${m[0]}`);
        }
      }
      this.uriList = [...seen].map(toOctets);
    }
    return this.uriList;
  }
}

function decodeHtmlAttr(s: string): string {
  return s.replace(/&amp;/gi, '&').replace(/&#(\d+);?/g, (_, d: string) => String.fromCharCode(Number(d) & 0xffff));
}

/** Registrable domain, approximated: the last two labels (three under co.uk-like second levels). */
export function registrableDomain(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length <= 2) return labels.join('.');
  const sld = labels[labels.length - 2]!;
  if (labels[labels.length - 1]!.length === 2 && /^(?:co|com|net|org|gov|edu|ac|or|ne|go)$/.test(sld)) return labels.slice(-3).join('.');
  return labels.slice(-2).join('.');
}

/** Addresses of an address header: display name (raw) and address. */
export function parseAddresses(value: string): { name: string | null; address: string | null }[] {
  const out: { name: string | null; address: string | null }[] = [];
  // Split on commas outside quotes and angle brackets.
  const items: string[] = [];
  let cur = '';
  let q = false;
  let angle = 0;
  let paren = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && q) {
      cur += c + (value[++i] ?? '');
      continue;
    }
    if (c === '"') q = !q;
    else if (!q && c === '<') angle++;
    else if (!q && c === '>') angle = Math.max(0, angle - 1);
    else if (!q && c === '(') paren++;
    else if (!q && c === ')') paren = Math.max(0, paren - 1);
    if (c === ',' && !q && !angle && !paren) {
      items.push(cur);
      cur = '';
    } else cur += c;
  }
  items.push(cur);
  for (const it of items) {
    const s = it.trim();
    if (!s) continue;
    const m = /^(.*?)<([^<>]*)>\s*(?:\(.*\))?$/s.exec(s);
    if (m) {
      let name: string | null = m[1]!.trim();
      if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
      out.push({ name: name || null, address: m[2]!.trim() || null });
      continue;
    }
    const c = /^([^\s()]+)\s*\((.*)\)\s*$/s.exec(s);
    if (c) {
      out.push({ name: c[2]!.trim() || null, address: c[1]! });
      continue;
    }
    out.push({ name: null, address: s.includes('@') || !/\s/.test(s) ? s.replace(/\s+/g, '') : null });
  }
  return out;
}
