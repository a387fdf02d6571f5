// The figures SpamAssassin's HTML reader (Mail::SpamAssassin::HTML over HTML::Parser)
// records about an HTML part, which the HTMLEval rules test: how often each tag is open
// (`inside`), known elements against all tags, extra closing tags, the largest font size,
// image area, text glued to the previous text across markup ("obfuscation"), comments,
// titles, text coloured like its background. Computed here in one pass over the part by
// our own tolerant tag scanner; this is not the reader of html.ts (which renders text for
// the rules and the tokenizer) because these counts follow SpamAssassin's own
// definitions, oddities included, so that the rules' thresholds mean the same.

/** Elements of HTML 4.01 / XHTML 1.0 (plus three SpamAssassin accepts); others are "bad" tags. */
const ELEMENTS = new Set(
  (
    'a abbr acronym address area b base bdo big blockquote body br button caption cite code col colgroup dd del dfn div dl dt em ' +
    'fieldset form h1 h2 h3 h4 h5 h6 head hr html i img input ins kbd label legend li link map meta noscript object ol optgroup ' +
    'option p param pre q samp script select small span strong style sub sup table tbody td textarea tfoot th thead title tr tt ul ' +
    'var applet basefont center dir font frame frameset iframe isindex menu noframes s strike u nobr x-sigsep x-tab'
  ).split(' '),
);
/** Not valid, but rendered (and counted for the tests) all the same. */
const TRICKS = new Set(['bgsound', 'embed', 'listing', 'plaintext', 'xmp']);
const TEXT_STYLE = new Set(['body', 'font', 'table', 'tr', 'th', 'td', 'big', 'small', 'basefont', 'marquee', 'span', 'p', 'div', 'a']);
const WHITESPACE = new Set('br div li th td dt dd p hr blockquote pre embed listing plaintext xmp title h1 h2 h3 h4 h5 h6'.split(' '));
/** Attributes that change the text style, by element. */
const STYLE_ATTRS: Record<string, ReadonlySet<string>> = {
  basefont: new Set(['color', 'face', 'size']),
  body: new Set(['text', 'bgcolor']),
  font: new Set(['color', 'face', 'size']),
  marquee: new Set(['bgcolor']),
  table: new Set(['bgcolor', 'style']),
  td: new Set(['bgcolor', 'style']),
  th: new Set(['bgcolor', 'style']),
  tr: new Set(['bgcolor', 'style']),
  span: new Set(['style']),
  p: new Set(['style']),
  div: new Set(['style']),
  a: new Set(['style']),
};

const COLORS: Record<string, string> = {
  aqua: '#00ffff', black: '#000000', blue: '#0000ff', fuchsia: '#ff00ff', gray: '#808080', grey: '#808080', green: '#008000',
  lime: '#00ff00', maroon: '#800000', navy: '#000080', olive: '#808000', purple: '#800080', red: '#ff0000', silver: '#c0c0c0',
  teal: '#008080', white: '#ffffff', yellow: '#ffff00', orange: '#ffa500', whitesmoke: '#f5f5f5', snow: '#fffafa',
  ivory: '#fffff0', lightgray: '#d3d3d3', lightgrey: '#d3d3d3', gainsboro: '#dcdcdc', darkgray: '#a9a9a9', cyan: '#00ffff',
  magenta: '#ff00ff', ghostwhite: '#f8f8ff', floralwhite: '#fffaf0', linen: '#faf0e6', beige: '#f5f5dc', azure: '#f0ffff',
};

/** "#rrggbb" for a colour name or value, "invalid" when it is none. */
export function colorToRgb(value: string): string {
  let v = value.trim().toLowerCase().replace(/\s*!\s*important$/, '');
  if (COLORS[v]) return COLORS[v]!;
  v = v.replace(/^#/, '');
  if (/^[0-9a-f]{6}$/.test(v)) return `#${v}`;
  if (/^[0-9a-f]{3}$/.test(v)) return `#${v[0]}${v[0]}${v[1]}${v[1]}${v[2]}${v[2]}`;
  // Browsers read sloppy hex by padding; SpamAssassin accepts 1-6 hex digits the same way.
  if (/^[0-9a-f]{1,5}$/.test(v)) return `#${v.padStart(6, '0')}`;
  return 'invalid';
}

interface Style {
  tag: string;
  fg: string;
  bg: string;
  size: number;
  display?: string;
  visibility?: string;
}

export interface SaHtmlStats {
  /** Open count of each tag at the end (0 when it was opened and closed). */
  inside: Map<string, number>;
  tags: number;
  elements: number;
  tagsSeen: number;
  elementsSeen: number;
  closedExtra: number;
  obfuscation: number;
  maxSize: number;
  imageArea: number;
  /** Length of the HTML source. */
  length: number;
  /** Non-whitespace characters of the rendered text. */
  nonSpaceLen: number;
  comments: string[];
  titles: string[];
  fontLowContrast: boolean;
  fontInvalidColor: boolean;
  fontFaceBad: boolean;
  embeds: boolean;
  formActionMailto: boolean;
  charsets: string[];
  iframeSrcs: string[];
}

/** The figures HTMLEval's html_range / html_eval read, by SpamAssassin's names. */
export function htmlResult(s: SaHtmlStats, name: string): number | boolean | undefined {
  switch (name) {
    case 'html': return true;
    case 'closed_extra_ratio': return s.tags ? s.closedExtra / s.tags : undefined;
    case 'bad_tag_ratio': return s.tags ? (s.tags - s.elements) / s.tags : undefined;
    case 'non_element_ratio': return s.tagsSeen ? (s.tagsSeen - s.elementsSeen) / s.tagsSeen : undefined;
    case 'obfuscation_ratio': return s.tags ? s.obfuscation / s.tags : undefined;
    case 'max_size': return s.maxSize;
    case 'image_area': return s.imageArea;
    case 'length': return s.length;
    case 'non_space_len': return s.nonSpaceLen;
    case 'font_low_contrast': return s.fontLowContrast;
    case 'font_invalid_color': return s.fontInvalidColor;
    case 'font_face_bad': return s.fontFaceBad;
    case 'embeds': return s.embeds;
    case 'form_action_mailto': return s.formActionMailto;
    default: return undefined;
  }
}

const ATTR_RE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"?|'([^']*)'?|([^\s>]+)))?/g;

function attrsOf(s: string): Map<string, string> {
  const out = new Map<string, string>();
  ATTR_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = ATTR_RE.exec(s)) && n++ < 100) {
    const k = m[1]!.toLowerCase();
    if (!out.has(k)) out.set(k, decodeAttr(m[2] ?? m[3] ?? m[4] ?? k));
  }
  return out;
}

function decodeAttr(s: string): string {
  return s.indexOf('&') < 0 ? s : s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(amp|lt|gt|quot));?/gi, (_, d?: string, h?: string, n?: string) =>
    d ? String.fromCharCode(Number(d) & 0xff) : h ? String.fromCharCode(parseInt(h, 16) & 0xff) : ({ amp: '&', lt: '<', gt: '>', quot: '"' } as Record<string, string>)[n!.toLowerCase()]!);
}

function decodeText(s: string): string {
  return s.indexOf('&') < 0 ? s : s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(nbsp|amp|lt|gt|quot|apos));?/gi, (_, d?: string, h?: string, n?: string) =>
    d ? String.fromCharCode(Number(d) & 0xffff) : h ? String.fromCharCode(parseInt(h, 16) & 0xffff) : ({ nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[n!.toLowerCase()]!);
}

const WORD_END = /[^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/;
const WORD_START = /^[^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/;
const FACE_OK = /^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$/i;

/** Reads one HTML part (latin1 bytes) for SpamAssassin's HTML figures. */
export function saHtmlStats(input: string): SaHtmlStats {
  const html = input.replace(/&nbsp;/g, ' ').replace(/<(\w+)\s*\/>/g, '<$1>');
  const s: SaHtmlStats = {
    inside: new Map(), tags: 0, elements: 0, tagsSeen: 0, elementsSeen: 0, closedExtra: 0, obfuscation: 0, maxSize: 3,
    imageArea: 0, length: input.length, nonSpaceLen: 0, comments: [], titles: [], fontLowContrast: false, fontInvalidColor: false,
    fontFaceBad: false, embeds: false, formActionMailto: false, charsets: [], iframeSrcs: [],
  };
  const styles: Style[] = [{ tag: 'default', fg: '#000000', bg: '#ffffff', size: 3 }];
  let basefont = 3;
  let lastText = '';
  let haveText = false;
  const open = (t: string) => (s.inside.get(t) ?? 0) > 0;

  const text = (raw: string) => {
    if (open('script') || open('style')) return;
    const t = decodeText(raw);
    if (open('title') && s.titles.length) s.titles[s.titles.length - 1] += t;
    if (/[^ \t\n\r\f\x0b\xa0]/.test(t)) {
      const top = styles[styles.length - 1]!;
      invisible(top);
    }
    if (haveText && WORD_START.test(t) && WORD_END.test(lastText)) s.obfuscation++;
    s.nonSpaceLen += t.replace(/[ \t\n\r\x0b\f\xa0]+/g, '').length;
    lastText = t;
    haveText = true;
  };
  const invisible = (st: Style) => {
    if (st.fg.slice(-6) === st.bg.slice(-6)) {
      s.fontLowContrast = true;
      return;
    }
    const a = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(st.fg);
    const b = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(st.bg);
    if (a && b) {
      const d = (i: number) => parseInt(a[i]!, 16) - parseInt(b[i]!, 16);
      const dist = Math.sqrt((0.2126 * d(1)) ** 2 + (0.7152 * d(2)) ** 2 + (0.0722 * d(3)) ** 2);
      if (dist < 12) {
        s.fontLowContrast = true;
        return;
      }
    }
    if (st.fg === 'invalid' || st.bg === 'invalid') s.fontInvalidColor = true;
  };
  const closeTo = (tag: string) => {
    if (!styles.some((x) => x.tag === tag)) return;
    while (styles.length > 1) {
      const cur = styles.pop()!;
      if (cur.tag === tag) break;
    }
  };
  const textStyle = (tag0: string, attrs: Map<string, string>, opening: boolean) => {
    const tag = tag0 === 'th' ? 'td' : tag0;
    if (!opening) {
      if (tag === 'basefont') return;
      closeTo(tag);
      return;
    }
    if (tag === 'basefont') {
      const m = /^\s*(\d+)/.exec(attrs.get('size') ?? '');
      if (m) return void (basefont = Number(m[1]));
    }
    if (tag === 'td' || tag === 'tr') {
      if (styles.some((x) => x.tag === tag)) {
        while (styles.length > 1) {
          const top = styles[styles.length - 1]!.tag;
          if ((tag === 'td' && (top === 'font' || top === 'td')) || (tag === 'tr' && /^(?:font|td|tr)$/.test(top))) styles.pop();
          else break;
        }
      }
    }
    const cur: Style = { ...styles[styles.length - 1]!, tag };
    if (tag === 'big' || tag === 'small') {
      cur.size += tag === 'big' ? 1 : -1;
      styles.push(cur);
      return;
    }
    const ok = STYLE_ATTRS[tag];
    for (const [name, value] of attrs) {
      if (!ok?.has(name)) continue;
      if (name === 'text' || name === 'color') cur.fg = colorToRgb(value);
      else if (name === 'bgcolor') cur.bg = colorToRgb(value);
      else if (name === 'size') {
        const rel = /^\s*([+-]\d+)/.exec(value);
        const abs = /^\s*(\d+)/.exec(value);
        if (rel) cur.size = basefont + Number(rel[1]);
        else if (abs) cur.size = Number(abs[1]);
      } else if (name === 'style') {
        for (const decl of value.split(';')) {
          const c = /^\s*(background-)?color:\s*(.+?)\s*$/i.exec(decl);
          if (c) {
            const v = c[2]!.toLowerCase().replace(/\s*!\s*important$/, '');
            let rgb: string | null;
            if (v.includes('rgb')) {
              const n = v.replace(/[^0-9,]/g, '').split(',').slice(0, 3).map((x) => Math.min(255, Number(x) || 0));
              rgb = `#${n.map((x) => x.toString(16).padStart(2, '0')).join('').padEnd(6, '0')}`;
            } else if (v === 'inherit') rgb = null;
            else if (v === 'transparent') rgb = c[1] ? styles[styles.length - 1]!.bg : cur.bg;
            else rgb = colorToRgb(v);
            if (rgb) {
              if (c[1]) cur.bg = rgb;
              else cur.fg = rgb;
            }
            continue;
          }
          const bgm = /^\s*background:\s*(.+?)\s*$/.exec(decl);
          if (bgm) {
            for (const w of bgm[1]!.toLowerCase().split(/\s+/).reverse()) {
              const rgb = colorToRgb(w);
              if (rgb !== 'invalid') {
                cur.bg = rgb;
                break;
              }
            }
            continue;
          }
          const p = /^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$/i.exec(decl);
          if (p && p[1]!.toLowerCase() === 'display') cur.display = p[2]!;
          if (p && p[1]!.toLowerCase() === 'visibility') cur.visibility = p[2]!;
        }
      }
      if (cur.size > s.maxSize) s.maxSize = cur.size;
    }
    styles.push(cur);
  };

  const tagEvent = (tag: string, attrs: Map<string, string>, num: 1 | -1) => {
    const ns = /^(?:o|st\d):[\w-]+\/?$/.test(tag);
    const known = s.inside.has(tag);
    if (ELEMENTS.has(tag) || ns) {
      s.elements++;
      if (!known) s.elementsSeen++;
    }
    s.tags++;
    if (!known) s.tagsSeen++;
    let v = (s.inside.get(tag) ?? 0) + num;
    if (v < 0) {
      v = 0;
      s.closedExtra++;
    }
    s.inside.set(tag, v);
    if (ns || !(ELEMENTS.has(tag) || TRICKS.has(tag))) return;
    if (TEXT_STYLE.has(tag)) textStyle(tag, attrs, num === 1);
    // Whitespace the tag renders as: text on either side is not one word.
    if (WHITESPACE.has(tag)) {
      lastText = ' ';
      haveText = true;
    }
    if (num !== 1) return;
    if (tag === 'font' && attrs.has('face') && !FACE_OK.test(attrs.get('face')!)) s.fontFaceBad = true;
    if (tag === 'img' && attrs.has('width') && attrs.has('height')) {
      const dim = (v: string, pct: number) => {
        const m = /^(\d+)(%)?$/.exec(v);
        const n = m ? Number(m[1]) * (m[2] ? pct : 1) : 0;
        return n > 0 ? n : 200;
      };
      s.imageArea += dim(attrs.get('width')!, 8) * dim(attrs.get('height')!, 6);
    }
    if (tag === 'form' && /mailto:/i.test(attrs.get('action') ?? '')) s.formActionMailto = true;
    if (tag === 'object' || tag === 'embed') s.embeds = true;
    if (tag === 'title') s.titles.push('');
    if (tag === 'iframe' && attrs.has('src')) s.iframeSrcs.push(attrs.get('src')!);
    if (tag === 'meta' && /Content-Type/i.test(attrs.get('http-equiv') ?? '')) {
      const cs = /\bcharset\s*=\s*["']?([^"']+)/i.exec(attrs.get('content') ?? '');
      if (cs) s.charsets.push(cs[1]!);
    }
  };

  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      text(html.slice(i));
      break;
    }
    if (lt > i) text(html.slice(i, lt));
    const c = html.charCodeAt(lt + 1);
    // Inside <script>/<style> only the closing tag ends the content (CDATA, as HTML::Parser).
    if (open('script') || open('style')) {
      const which = open('script') ? 'script' : 'style';
      const end = html.toLowerCase().indexOf(`</${which}`, lt);
      if (end < 0) break;
      if (end > lt) {
        i = end;
        continue;
      }
    }
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      const stop = end < 0 ? n : end + 3;
      s.comments.push(html.slice(lt, stop));
      i = stop;
      continue;
    }
    if (c === 33 /* ! */ || c === 63 /* ? */) {
      const gt = html.indexOf('>', lt);
      const stop = gt < 0 ? n : gt + 1;
      const decl = html.slice(lt, stop);
      if (/^<!doctype/i.test(decl)) {
        s.elements++;
        s.tags++;
        s.inside.set('!doctype', 0);
      } else if (c === 33) s.comments.push(decl);
      i = stop;
      continue;
    }
    const closing = c === 47;
    const nameM = /^[a-zA-Z][^\s/>]*/.exec(html.slice(lt + (closing ? 2 : 1), lt + (closing ? 2 : 1) + 64));
    if (!nameM) {
      text('<');
      i = lt + 1;
      continue;
    }
    // The tag ends at the first ">" outside quotes.
    let j = lt + 1 + (closing ? 1 : 0) + nameM[0].length;
    let q = '';
    for (; j < n; j++) {
      const ch = html[j]!;
      if (q) {
        if (ch === q) q = '';
      } else if (ch === '"' || ch === "'") {
        if (/[=\s]/.test(html[j - 1] ?? '') || /=\s*$/.test(html.slice(Math.max(0, j - 4), j))) q = ch;
      } else if (ch === '>') break;
    }
    if (j >= n) break;
    const tag = nameM[0].toLowerCase();
    const attrs = closing ? new Map<string, string>() : attrsOf(html.slice(lt + 1 + nameM[0].length, j));
    tagEvent(tag, attrs, closing ? -1 : 1);
    i = j + 1;
  }
  return s;
}
