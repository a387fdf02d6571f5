// Inline images of a signature as CID parts (RFC 2387 multipart/related, RFC 2392 cid:
// URLs). An HTML part that is already the root of a multipart/related gets the images
// as further parts of that container; any other HTML part is wrapped in a new
// multipart/related holding the part and its images.
import { randomBytes } from 'node:crypto';
import type { InlineImage } from './insertion.ts';

export function newBoundary(): string {
  return `----=_hermes_related_${randomBytes(12).toString('hex')}`;
}

function base64Lines(data: Buffer): string {
  const b64 = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n');
}

function quoteParam(v: string): string {
  return `"${v.replace(/[\r\n]/g, '').replace(/(["\\])/g, '\\$1')}"`;
}

/** One image body part: headers, blank line, base64 body (no trailing line break). */
export function imagePart(img: InlineImage): string {
  return (
    `Content-Type: ${img.contentType}; name=${quoteParam(img.filename)}\r\n` +
    'Content-Transfer-Encoding: base64\r\n' +
    `Content-ID: <${img.contentId}>\r\n` +
    `Content-Disposition: inline; filename=${quoteParam(img.filename)}\r\n\r\n` +
    base64Lines(img.data)
  );
}

/** Further parts for an existing multipart/related, to follow its first part's body. */
export function siblingParts(boundary: string, images: readonly InlineImage[]): Buffer {
  return Buffer.from(images.map((img) => `\r\n--${boundary}\r\n${imagePart(img)}`).join(''), 'latin1');
}

/** The multipart/related Content-Type for a wrapper with this boundary. */
export function relatedContentType(boundary: string): string {
  return `multipart/related; type="text/html"; boundary="${boundary}"`;
}

/** The rest of a wrapper after the HTML part's body: the images, then the closing delimiter. */
export function wrapperTail(boundary: string, images: readonly InlineImage[], endWithNewline: boolean): Buffer {
  return Buffer.concat([siblingParts(boundary, images), Buffer.from(`\r\n--${boundary}--${endWithNewline ? '\r\n' : ''}`, 'latin1')]);
}
