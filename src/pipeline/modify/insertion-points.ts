// Where inserted text goes. HTML: a banner right after the opening <body ...> tag, a
// disclaimer or signature right before the last </body> (with fallbacks for documents
// without those tags). Plain text: a banner and a blank line on top, a blank line and
// the block at the bottom. Works on "binary" strings (one char per byte) of parts in an
// ASCII-compatible charset, where tag characters are always single ASCII bytes.

/** Index just after the tag that starts at `lt` (quotes respected), or -1 if it never closes. */
function tagEnd(s: string, lt: number): number {
  let quote = '';
  for (let i = lt + 1; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i + 1;
  }
  return -1;
}

/** After the opening tag matched by `re` (first match), or -1. */
function afterTag(s: string, re: RegExp): number {
  const m = re.exec(s);
  return m ? tagEnd(s, m.index) : -1;
}

/** Where a banner goes in an HTML document. */
export function htmlTopIndex(s: string): number {
  for (const re of [/<body(?=[\s/>])/i, /<\/head\s*>/i, /<html(?=[\s/>])/i, /<!doctype(?=[\s>])/i]) {
    const at = afterTag(s, re);
    if (at >= 0) return at;
  }
  return 0;
}

/** Where a disclaimer or signature goes in an HTML document: before the last </body>, else </html>, else the end. */
export function htmlBottomIndex(s: string): number {
  for (const re of [/<\/body\s*>/gi, /<\/html\s*>/gi]) {
    let last = -1;
    for (let m = re.exec(s); m; m = re.exec(s)) last = m.index;
    if (last >= 0) return last;
  }
  // Trailing line breaks stay last, so the block is on the document's last line.
  return s.replace(/[\r\n]+$/, '').length;
}

/** The line ending a text uses: CRLF unless it only has bare LFs. */
export function lineEndingOf(s: string): '\r\n' | '\n' {
  return s.includes('\n') && !s.includes('\r\n') ? '\n' : '\r\n';
}

/** Text block lines rewritten to `eol`, without a trailing line break. */
export function withLineEnding(block: string, eol: string): string {
  return block.replace(/\r\n|\r|\n/g, '\n').replace(/\n+$/, '').split('\n').join(eol);
}

/** Plain text: what goes before the original (the banner, then a blank line). */
export function plainTopPrefix(block: string, eol: string): string {
  return withLineEnding(block, eol) + eol + eol;
}

/** Plain text: what goes after the original, given whether the original ends with a line break. */
export function plainBottomSuffix(block: string, eol: string, originalEndsWithNewline: boolean): string {
  // The part keeps its shape: inside a multipart the line break before the next
  // delimiter belongs to the delimiter, so a body that did not end with one still does not.
  return (originalEndsWithNewline ? '' : eol) + eol + withLineEnding(block, eol) + (originalEndsWithNewline ? eol : '');
}

/**
 * A block for a format=flowed part (RFC 3676): no line may end in a space (it would
 * join the next line), except the "-- " signature separator, and lines starting with
 * a space, ">" or "From " are space-stuffed so they are not read as quotes.
 */
export function asFlowedBlock(block: string): string {
  return block
    .split(/\r\n|\r|\n/)
    .map((line) => (line === '-- ' ? line : line.replace(/[ \t]+$/, '')))
    .map((line) => (/^( |>|From )/.test(line) ? ` ${line}` : line))
    .join('\n');
}
