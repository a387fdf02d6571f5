// A small, tolerant, single-pass HTML reader for the spam checks and the tokenizer.
// It is not a DOM: it walks tags and text once, keeps a stack of open elements to know
// whether text is hidden (display:none, visibility:hidden, zero size, text coloured like
// its background), collects links with their text, and counts a few tricks spammers use
// (letters written as numeric entities, comments or empty tags inside words).

export interface HtmlLink {
  href: string;
  /** The link's visible text, whitespace collapsed. */
  text: string;
}

export interface HtmlInfo {
  /** Visible text with block boundaries as newlines, entities decoded. */
  visibleText: string;
  /** Text the reader would not see: hidden by style, zero size, or same colour as the background. */
  hiddenText: string;
  links: HtmlLink[];
  images: number;
  /** Lowercase names of the elements present. */
  tags: Set<string>;
  /** Letters and digits written as numeric character references (&#101; for "e") in text. */
  numericEntityLetters: number;
  /** Places where a comment or an empty inline element sits between two letters of a word. */
  splitWords: number;
  forms: number;
  scripts: number;
  iframes: number;
  /** True when the input was cut at the size limit. */
  truncated: boolean;
}

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr', 'basefont', 'frame', 'keygen', 'spacer']);
const BLOCK = new Set([
  'p', 'br', 'div', 'tr', 'td', 'th', 'li', 'ul', 'ol', 'table', 'tbody', 'thead', 'tfoot', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
  'blockquote', 'pre', 'center', 'dd', 'dt', 'dl', 'form', 'title', 'address', 'section', 'article', 'header', 'footer', 'option', 'caption',
]);
/** Elements whose content is never shown as text. */
const SKIP_CONTENT = new Set(['script', 'style', 'head', 'title', 'noscript', 'template', 'xml', 'object', 'applet']);

const NAMED_ENTITIES: Record<string, string> = {
  nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®', trade: '™', mdash: '—', ndash: '–',
  hellip: '…', rsquo: '’', lsquo: '‘', ldquo: '“', rdquo: '”', bull: '•', middot: '·', laquo: '«', raquo: '»', euro: '€',
  pound: '£', yen: '¥', cent: '¢', deg: '°', times: '×', divide: '÷', sect: '§', para: '¶', shy: '', zwnj: '', zwj: '',
  eacute: 'é', egrave: 'è', ecirc: 'ê', euml: 'ë', aacute: 'á', agrave: 'à', acirc: 'â', auml: 'ä', aring: 'å', atilde: 'ã',
  iacute: 'í', igrave: 'ì', icirc: 'î', iuml: 'ï', oacute: 'ó', ograve: 'ò', ocirc: 'ô', ouml: 'ö', otilde: 'õ', oslash: 'ø',
  uacute: 'ú', ugrave: 'ù', ucirc: 'û', uuml: 'ü', ntilde: 'ñ', ccedil: 'ç', szlig: 'ß', aelig: 'æ', yacute: 'ý', yuml: 'ÿ',
  Eacute: 'É', Aacute: 'Á', Oacute: 'Ó', Uacute: 'Ú', Ntilde: 'Ñ', Ccedil: 'Ç', Auml: 'Ä', Ouml: 'Ö', Uuml: 'Ü',
  iexcl: '¡', iquest: '¿', frac12: '½', frac14: '¼', frac34: '¾', plusmn: '±', micro: 'µ', ensp: ' ', emsp: ' ', thinsp: ' ',
};

const ENTITY_RE = /&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});?/g;

/** Decodes character references; counts letters/digits written as numeric references. */
export function decodeEntities(s: string, counter?: { numericLetters: number }): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY_RE, (whole, ref: string) => {
    if (ref.charCodeAt(0) === 35 /* # */) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '';
      if (counter && ((code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122))) counter.numericLetters++;
      return String.fromCodePoint(code);
    }
    const v = NAMED_ENTITIES[ref] ?? NAMED_ENTITIES[ref.toLowerCase()];
    return v ?? whole;
  });
}

type Rgb = [number, number, number];

const NAMED_COLORS: Record<string, Rgb> = {
  white: [255, 255, 255], black: [0, 0, 0], red: [255, 0, 0], green: [0, 128, 0], blue: [0, 0, 255], yellow: [255, 255, 0],
  gray: [128, 128, 128], grey: [128, 128, 128], silver: [192, 192, 192], navy: [0, 0, 128], maroon: [128, 0, 0],
  purple: [128, 0, 128], teal: [0, 128, 128], olive: [128, 128, 0], lime: [0, 255, 0], aqua: [0, 255, 255], cyan: [0, 255, 255],
  fuchsia: [255, 0, 255], magenta: [255, 0, 255], orange: [255, 165, 0], snow: [255, 250, 250], ivory: [255, 255, 240],
  whitesmoke: [245, 245, 245], ghostwhite: [248, 248, 255], floralwhite: [255, 250, 240], linen: [250, 240, 230],
  lightgray: [211, 211, 211], lightgrey: [211, 211, 211], gainsboro: [220, 220, 220], darkgray: [169, 169, 169],
};

export function parseColor(v: string | undefined): Rgb | null {
  if (!v) return null;
  let s = v.trim().toLowerCase();
  if (s.startsWith('#')) s = s.slice(1);
  else if (NAMED_COLORS[s]) return NAMED_COLORS[s]!;
  else if (s.startsWith('rgb')) {
    const m = /^rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})/.exec(s);
    return m ? [Math.min(255, +m[1]!), Math.min(255, +m[2]!), Math.min(255, +m[3]!)] : null;
  }
  if (/^[0-9a-f]{6}$/.test(s)) return [parseInt(s.slice(0, 2), 16), parseInt(s.slice(2, 4), 16), parseInt(s.slice(4, 6), 16)];
  if (/^[0-9a-f]{3}$/.test(s)) return [parseInt(s[0]! + s[0]!, 16), parseInt(s[1]! + s[1]!, 16), parseInt(s[2]! + s[2]!, 16)];
  return null;
}

function luminance([r, g, b]: Rgb): number {
  const f = (c: number) => {
    const x = c / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

/** WCAG contrast ratio, 1 (none) to 21 (black on white). */
export function contrast(a: Rgb, b: Rgb): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

interface Frame {
  name: string;
  hidden: boolean;
  color: Rgb | null;
  /** Background; null when unknown (an image, or set by a style sheet we do not evaluate). */
  bg: Rgb | null;
  skip: boolean;
}

const ATTR_RE = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

function parseAttrs(s: string): Map<string, string> {
  const attrs = new Map<string, string>();
  if (!s) return attrs;
  ATTR_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = ATTR_RE.exec(s)) && n++ < 64) {
    const k = m[1]!.toLowerCase();
    if (!attrs.has(k)) attrs.set(k, m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

const STYLE_PROP_RE: Record<string, RegExp> = {
  color: /(?:^|[;{\s])color\s*:\s*([^;]+)/i,
  'background-color': /(?:^|[;{\s])background-color\s*:\s*([^;]+)/i,
  background: /(?:^|[;{\s])background\s*:\s*([^;]+)/i,
};

function styleProp(style: string, prop: keyof typeof STYLE_PROP_RE): string | undefined {
  const m = STYLE_PROP_RE[prop]!.exec(style);
  return m ? m[1]!.replace(/!important/i, '').trim() : undefined;
}

function isHiddenStyle(style: string): boolean {
  if (!style) return false;
  const s = style.toLowerCase();
  if (/display\s*:\s*none/.test(s)) return true;
  if (/visibility\s*:\s*hidden/.test(s)) return true;
  if (/(?:^|[;\s])font-size\s*:\s*0*(?:\.0*)?(?:px|pt|em|rem|%)?\s*(?:;|$|!)/.test(s)) return true;
  if (/(?:^|[;\s])font-size\s*:\s*0?\.\d+\s*px/.test(s)) return true;
  if (/(?:^|[;\s])opacity\s*:\s*0(?:\.0*)?\s*(?:;|$|!)/.test(s)) return true;
  if (/(?:^|[;\s])(?:max-)?height\s*:\s*0(?:px)?\s*[;!]/.test(s) && /overflow\s*:\s*hidden/.test(s)) return true;
  return false;
}

const WHITE: Rgb = [255, 255, 255];

export function analyzeHtml(input: string, maxLength = 512 * 1024): HtmlInfo {
  const truncated = input.length > maxLength;
  const html = truncated ? input.slice(0, maxLength) : input;
  const info: HtmlInfo = {
    visibleText: '',
    hiddenText: '',
    links: [],
    images: 0,
    tags: new Set(),
    numericEntityLetters: 0,
    splitWords: 0,
    forms: 0,
    scripts: 0,
    iframes: 0,
    truncated,
  };
  // A style sheet that sets backgrounds makes our idea of the background unreliable.
  let sheetBackground = false;
  for (let at = html.search(/<style[\s>]/i); at >= 0 && !sheetBackground; ) {
    const end = html.indexOf('</style', at);
    const sheet = html.slice(at, end < 0 ? html.length : end);
    if (/background/i.test(sheet)) sheetBackground = true;
    if (end < 0) break;
    const next = html.slice(end).search(/<style[\s>]/i);
    at = next < 0 ? -1 : end + next;
  }
  const rootBg: Rgb | null = sheetBackground ? null : WHITE;
  const stack: Frame[] = [{ name: '#root', hidden: false, color: null, bg: rootBg, skip: false }];
  const visible: string[] = [];
  const hidden: string[] = [];
  const counter = { numericLetters: 0 };
  let link: { href: string; parts: string[] } | null = null;
  // Words split by markup that renders as nothing: a letter, then only a comment or an
  // empty element (<b></b>), then a letter. Ordinary inline tags between letters are not
  // counted: editors split words across <span>s for formatting.
  let lastLetter = false;
  let splitMarkup = false;
  let pendingOpen: string | null = null;

  const emit = (raw: string) => {
    const top = stack[stack.length - 1]!;
    if (top.skip) return;
    const text = decodeEntities(raw, counter);
    if (!text) return;
    if (splitMarkup && lastLetter && /^[A-Za-z]/.test(text)) info.splitWords++;
    lastLetter = /[A-Za-z]$/.test(text);
    splitMarkup = false;
    pendingOpen = null;
    const t = text.trim();
    let isHidden = top.hidden;
    if (!isHidden && top.color && top.bg && t && contrast(top.color, top.bg) < 1.25) isHidden = true;
    (isHidden ? hidden : visible).push(text);
    if (link && !isHidden) link.parts.push(text);
  };
  const closeLink = () => {
    if (!link) return;
    if (info.links.length < 500) info.links.push({ href: link.href, text: link.parts.join('').replace(/\s+/g, ' ').trim() });
    link = null;
  };

  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      emit(html.slice(i));
      break;
    }
    if (lt > i) emit(html.slice(i, lt));
    // Comment
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? n : end + 3;
      if (lastLetter) splitMarkup = true;
      continue;
    }
    const next = html.charCodeAt(lt + 1);
    const isLetter = (next >= 65 && next <= 90) || (next >= 97 && next <= 122);
    if (!isLetter && next !== 47 /* / */ && next !== 33 /* ! */ && next !== 63 /* ? */) {
      // A lone "<" in text.
      emit('<');
      i = lt + 1;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const tag = html.slice(lt + 1, gt);
    i = gt + 1;
    if (next === 33 || next === 63) continue; // <!DOCTYPE>, <?xml?>
    const closing = next === 47;
    const m = /^\/?\s*([a-zA-Z][a-zA-Z0-9:-]*)/.exec(tag);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    info.tags.add(name);
    const top = stack[stack.length - 1]!;

    if (closing) {
      if (name === 'a') closeLink();
      for (let k = stack.length - 1; k > 0; k--) {
        if (stack[k]!.name === name) {
          stack.length = k;
          break;
        }
      }
      if (BLOCK.has(name)) {
        emit('\n');
        lastLetter = false;
      } else if (lastLetter && pendingOpen === name) splitMarkup = true;
      pendingOpen = null;
      continue;
    }

    const attrs = parseAttrs(tag.slice(m[0].length));
    switch (name) {
      case 'img':
        info.images++;
        break;
      case 'form':
        info.forms++;
        break;
      case 'script':
        info.scripts++;
        break;
      case 'iframe':
        info.iframes++;
        break;
      case 'a': {
        closeLink();
        const href = attrs.get('href');
        if (href !== undefined) link = { href: decodeEntities(href.trim()), parts: [] };
        break;
      }
    }
    if (BLOCK.has(name)) {
      emit('\n');
      lastLetter = false;
    }
    pendingOpen = lastLetter && !VOID.has(name) ? name : null;
    if (VOID.has(name) || tag.endsWith('/')) continue;

    const style = attrs.get('style') ?? '';
    let hiddenNow = top.hidden || attrs.has('hidden') || isHiddenStyle(style);
    if (name === 'font') {
      const size = attrs.get('size');
      if (size !== undefined && /^\s*[-+]?0\s*$/.test(size)) hiddenNow = true;
    }
    let color = top.color;
    let bg = top.bg;
    const colorAttr = attrs.get('color') ?? (style ? styleProp(style, 'color') : undefined);
    if (colorAttr !== undefined) color = parseColor(colorAttr);
    const bgAttr = attrs.get('bgcolor') ?? (style ? (styleProp(style, 'background-color') ?? styleProp(style, 'background')) : undefined);
    if (bgAttr !== undefined) {
      const c = parseColor(bgAttr.split(/\s+/)[0]);
      bg = c ?? null;
    }
    if (attrs.has('background') || /background-image|url\(/i.test(style)) bg = null;
    if (name === 'body' && top.name === '#root' && bgAttr === undefined && attrs.has('class')) bg = null;
    const skip = top.skip || SKIP_CONTENT.has(name);
    if (stack.length < 256) stack.push({ name, hidden: hiddenNow, color, bg, skip });
  }
  closeLink();
  info.numericEntityLetters = counter.numericLetters;
  info.visibleText = visible.join('').replace(/[ \t\r\f\v\u00a0]+/g, ' ').replace(/\s*\n\s*/g, '\n').trim();
  info.hiddenText = hidden.join('').replace(/\s+/g, ' ').trim();
  return info;
}
