// What the modify stage inserts, already rendered for one message: a banner on top, a
// signature and a disclaimer at the bottom, each as plain text and HTML.

export type ChangeKind = 'banner' | 'disclaimer' | 'signature';

export interface InlineImage {
  /** Content-ID without brackets; the HTML refers to it as cid:<contentId>. */
  contentId: string;
  contentType: string;
  filename: string;
  data: Buffer;
}

export interface Insertion {
  kind: ChangeKind;
  position: 'top' | 'bottom';
  /** Block for text/plain parts (no trailing line break needed). */
  text: string;
  /** Block for text/html parts, escaped, wrapped in an element with the marker class. */
  html: string;
  /**
   * When set, a part that already shows this block (a reply quoting an earlier
   * disclaimer, with "> " quoting or as HTML) does not get it again.
   */
  presence?: { text: string; marker: string };
  /** Images the HTML block shows inline (multipart/related). */
  images: InlineImage[];
}

/** Lower case, tags and quote marks removed, entities decoded, whitespace collapsed: to see a block in quoted replies. */
export function comparable(s: string, isHtml: boolean): string {
  let t = s;
  if (isHtml) {
    t = t
      .replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/gi, ' ')
      .replace(/&lt;/gi, '<')
      .replace(/&gt;/gi, '>')
      .replace(/&quot;/gi, '"')
      .replace(/&#0*39;|&apos;/gi, "'")
      .replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n)))
      .replace(/&#x([0-9a-f]+);/gi, (_m, n: string) => String.fromCodePoint(parseInt(n, 16)))
      .replace(/&amp;/gi, '&');
  }
  return t
    .replace(/^[ \t>]+/gm, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/** Whether the content (decoded text of a part) already carries the block. */
export function alreadyPresent(content: string, isHtml: boolean, presence: { text: string; marker: string }): boolean {
  if (isHtml && content.includes(presence.marker)) return true;
  const needle = comparable(presence.text, false);
  return needle.length > 0 && comparable(content, isHtml).includes(needle);
}
