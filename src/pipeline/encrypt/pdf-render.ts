// A message as a password-protected PDF (pdfkit): a readable page of its header fields
// and body text, its attachments embedded as PDF file attachments, the whole file
// encrypted with AES-256 (PDF 1.7 extension level 3, pdfkit's "1.7ext3"), so any PDF
// reader opens it with the password and nothing else reads it.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import PDFDocument from 'pdfkit';
import PostalMime, { type Address, type Email } from '../mime/postal-mime.ts';
import sanitizeHtml from 'sanitize-html';

// DejaVu (Debian's fonts-dejavu-core) covers Latin, Greek and Cyrillic; without it
// pdfkit's built-in Helvetica shows only Windows-1252.
const FONT_DIR = process.env.HERMES_PDF_FONT_DIR ?? '/usr/share/fonts/truetype/dejavu';
const FONTS = { regular: `${FONT_DIR}/DejaVuSans.ttf`, bold: `${FONT_DIR}/DejaVuSans-Bold.ttf` };

export interface RenderedPdf {
  pdf: Buffer;
  subject: string;
  attachments: number;
}

export interface PdfRenderOptions {
  /** The password that opens the document. */
  userPassword: string;
  /** The owner password (full rights); random when not given, so nobody has it. */
  ownerPassword?: string;
  /** Document creation time (tests pin it). */
  now?: Date;
}

export async function renderMessagePdf(message: Buffer, o: PdfRenderOptions): Promise<RenderedPdf> {
  const mail = await PostalMime.parse(message, { attachmentEncoding: 'arraybuffer' });
  const subject = mail.subject ?? '(no subject)';
  const now = o.now ?? new Date();
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    pdfVersion: '1.7ext3',
    userPassword: o.userPassword,
    ownerPassword: o.ownerPassword ?? randomBytes(24).toString('base64url'),
    // The reader may print and copy (it is the recipient's own mail), not change it.
    permissions: { printing: 'highResolution', copying: true, modifying: false, annotating: false, fillingForms: false, contentAccessibility: true, documentAssembly: false },
    info: { Title: subject, Creator: 'Hermes SEG', CreationDate: now },
    autoFirstPage: true,
  });
  const done = collect(doc);
  const haveFonts = existsSync(FONTS.regular) && existsSync(FONTS.bold);
  const regular = haveFonts ? FONTS.regular : 'Helvetica';
  const bold = haveFonts ? FONTS.bold : 'Helvetica-Bold';

  doc.font(bold).fontSize(16).text(subject);
  doc.moveDown(0.5);
  for (const [label, value] of headerLines(mail)) {
    doc.font(bold).fontSize(10).text(`${label}: `, { continued: true }).font(regular).text(value);
  }
  const files = mail.attachments.filter((a) => a.disposition !== 'inline' || a.filename);
  if (files.length) {
    doc.font(bold).text('Attachments: ', { continued: true }).font(regular).text(files.map((a, i) => a.filename ?? `attachment-${i + 1}`).join(', '));
  }
  doc.moveDown(0.5).moveTo(50, doc.y).lineTo(545, doc.y).stroke().moveDown(0.8);
  doc.font(regular).fontSize(11).text(bodyText(mail) || '(no text)', { lineGap: 2 });

  files.forEach((a, i) => {
    const content = typeof a.content === 'string' ? Buffer.from(a.content, 'utf8') : Buffer.from(a.content as ArrayBuffer);
    doc.file(content, { name: safeName(a.filename ?? `attachment-${i + 1}`), type: a.mimeType, creationDate: now, modifiedDate: now, ...(a.description ? { description: a.description } : {}) });
  });
  doc.end();
  return { pdf: await done, subject, attachments: files.length };
}

function collect(doc: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
}

function headerLines(mail: Email): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  if (mail.from) lines.push(['From', addresses([mail.from])]);
  if (mail.to?.length) lines.push(['To', addresses(mail.to)]);
  if (mail.cc?.length) lines.push(['Cc', addresses(mail.cc)]);
  if (mail.date) lines.push(['Date', new Date(mail.date).toUTCString()]);
  return lines;
}

function addresses(list: Address[]): string {
  return list
    .flatMap((a) => (a.group ? a.group : [a]))
    .map((m) => (m.name ? `${m.name} <${m.address}>` : m.address))
    .join(', ');
}

/** The plain text of the body; an HTML-only message is reduced to its text. */
export function bodyText(mail: Email): string {
  if (mail.text?.trim()) return mail.text.replace(/\r\n/g, '\n');
  if (!mail.html) return '';
  const blocks = mail.html.replace(/<(br|\/p|\/div|\/li|\/tr|\/h[1-6])\b[^>]*>/gi, '$&\n');
  return sanitizeHtml(blocks, { allowedTags: [], allowedAttributes: {}, nonTextTags: ['style', 'script', 'head', 'title'] })
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** A file name without path parts or control characters. */
function safeName(name: string): string {
  return name.replace(/[\\/\x00-\x1f]/g, '_').slice(0, 200) || 'attachment';
}
