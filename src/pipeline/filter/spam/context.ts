// Per-message analysis shared by the checks and the tokenizer: each piece (header
// lookups, HTML reading, body text, URLs) is computed once, on first use.
import type { SpamInput } from './types.ts';
import { analyzeHtml, type HtmlInfo } from './html.ts';
import { findTextUrls, parseUrl, type UrlInfo } from './urls.ts';

/** Body text beyond this many characters is not looked at. */
export const MAX_TEXT_CHARS = 256 * 1024;

export interface MimePartInfo {
  contentType: string;
  charset: string | null;
  encoding: string | null;
}

export class ScanContext {
  readonly now: Date;
  readonly localDomains: ReadonlySet<string>;
  private headerMap: Map<string, string[]> | null = null;
  private htmlInfo: HtmlInfo | null | undefined;
  private textCache: string | undefined;
  private urlCache: UrlInfo[] | undefined;
  private partsCache: MimePartInfo[] | undefined;
  private headerBlockCache: string | undefined;

  constructor(readonly input: SpamInput) {
    this.now = input.now ?? new Date();
    this.localDomains = new Set((input.localDomains ?? []).map((d) => d.toLowerCase().replace(/\.$/, '')));
  }

  /** All values of a top-level header, in message order (whitespace collapsed, not decoded). */
  headers(name: string): string[] {
    if (!this.headerMap) {
      this.headerMap = new Map();
      for (const h of this.input.parsed.headers) {
        const list = this.headerMap.get(h.key);
        if (list) list.push(h.value);
        else this.headerMap.set(h.key, [h.value]);
      }
    }
    return this.headerMap.get(name.toLowerCase()) ?? [];
  }

  header(name: string): string | undefined {
    return this.headers(name)[0];
  }

  /** The raw top-level header block as latin1 text (bytes kept one to one), at most 256 KiB. */
  get headerBlock(): string {
    if (this.headerBlockCache === undefined) {
      const raw = this.input.raw;
      let end = raw.indexOf('\r\n\r\n');
      const lf = raw.indexOf('\n\n');
      if (end < 0 || (lf >= 0 && lf < end)) end = lf;
      if (end < 0) end = raw.length;
      this.headerBlockCache = raw.subarray(0, Math.min(end, 256 * 1024)).toString('latin1');
    }
    return this.headerBlockCache;
  }

  /** Raw (latin1) values of a top-level header read from the bytes, unfolded. */
  rawHeaderValues(name: string): string[] {
    const re = new RegExp(`^${name.replace(/[-]/g, '\\-')}[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)`, 'gim');
    const out: string[] = [];
    const block = this.headerBlock;
    for (let m = re.exec(block); m; m = re.exec(block)) out.push(m[1]!.replace(/\r?\n(?=[ \t])/g, '').trim());
    return out;
  }

  /** Names (lowercase) of the top-level headers in order. */
  headerNames(): string[] {
    return this.input.parsed.headers.map((h) => h.key);
  }

  /** The HTML body read once; null when the message has no HTML part. */
  get html(): HtmlInfo | null {
    if (this.htmlInfo === undefined) {
      const h = this.input.parsed.html;
      this.htmlInfo = h ? analyzeHtml(h) : null;
    }
    return this.htmlInfo;
  }

  /** True when the message has HTML and no text/plain alternative of its own. */
  get htmlOnly(): boolean {
    return !!this.input.parsed.html && !this.input.parsed.text;
  }

  /**
   * The readable body: the text/plain part, plus the visible text of the HTML part when
   * there is one (spammers put different words in each alternative). Capped in length.
   */
  get text(): string {
    if (this.textCache === undefined) {
      const plain = this.input.parsed.text ?? '';
      const html = this.html?.visibleText ?? '';
      let t = plain && html ? `${plain}\n${html}` : plain || html;
      if (t.length > MAX_TEXT_CHARS) t = t.slice(0, MAX_TEXT_CHARS);
      this.textCache = t;
    }
    return this.textCache;
  }

  /** URLs from HTML links and from the text, at most 200. */
  get urls(): UrlInfo[] {
    if (!this.urlCache) {
      const out: UrlInfo[] = [];
      const seen = new Set<string>();
      for (const l of this.html?.links ?? []) {
        if (out.length >= 200) break;
        const u = parseUrl(l.href);
        if (u && u.host && !seen.has(u.url)) {
          seen.add(u.url);
          out.push(u);
        }
      }
      for (const u of findTextUrls(this.input.parsed.text ?? '', 200 - out.length)) {
        if (!seen.has(u.url)) {
          seen.add(u.url);
          out.push(u);
        }
      }
      this.urlCache = out;
    }
    return this.urlCache;
  }

  /** Content-Type, charset and transfer encoding of every MIME part (read from the raw bytes). */
  get mimeParts(): MimePartInfo[] {
    if (!this.partsCache) {
      const parts: MimePartInfo[] = [];
      const raw = this.input.raw;
      const text = raw.subarray(0, Math.min(raw.length, 1024 * 1024)).toString('latin1');
      const re = /^content-type:[ \t]*([^;\s]+)((?:[^\r\n]|\r?\n[ \t])*)/gim;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) && parts.length < 50) {
        const params = m[2] ?? '';
        const cs = /charset\s*=\s*"?([^";\s]+)/i.exec(params);
        // The transfer encoding is in the same header block, usually within a few lines
        // (the block may also begin before the Content-Type: look a little back too).
        let after = text.slice(m.index, m.index + 1000);
        const blockEnd = after.search(/\r?\n\r?\n/);
        if (blockEnd >= 0) after = after.slice(0, blockEnd);
        let before = text.slice(Math.max(0, m.index - 1000), m.index);
        const blockStart = before.search(/\r?\n\r?\n(?![\s\S]*\r?\n\r?\n)/);
        if (blockStart >= 0) before = before.slice(blockStart);
        const enc = /^content-transfer-encoding:[ \t]*([^\s;]+)/im.exec(after) ?? /^content-transfer-encoding:[ \t]*([^\s;]+)/im.exec(before);
        parts.push({
          contentType: m[1]!.toLowerCase().slice(0, 80),
          charset: cs ? cs[1]!.toLowerCase().slice(0, 40) : null,
          encoding: enc ? enc[1]!.toLowerCase().slice(0, 40) : null,
        });
      }
      this.partsCache = parts;
    }
    return this.partsCache;
  }

  /** True when the domain (or a parent of it) is one of ours. */
  isLocalDomain(domain: string): boolean {
    if (!this.localDomains.size) return false;
    let d = domain.toLowerCase().replace(/\.$/, '');
    for (;;) {
      if (this.localDomains.has(d)) return true;
      const dot = d.indexOf('.');
      if (dot < 0) return false;
      d = d.slice(dot + 1);
    }
  }
}
