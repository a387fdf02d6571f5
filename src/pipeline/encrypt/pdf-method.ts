// The password-protected PDF method of the encrypt stage (method.ts), the last resort of
// the 'always' policy: any recipient can get it. The message and its attachments become
// one AES-256 PDF sent in a short cover mail; the generated password goes to the sender
// in a separate mail (a side mail, queued by the stage through the gateway's own
// Acceptor), who passes it on by another channel. When the user portal lands, the
// password becomes the recipient's own, set once through a secure link
// (docs/encryption.md, "PDF").
import type { Availability, EncryptInput, EncryptionMethod, MethodResult } from './method.ts';
import { buildCoverMail, buildPasswordNotice, generatePdfPassword } from './pdf-mail.ts';
import { renderMessagePdf } from './pdf-render.ts';
import { getHeader, headerBlock } from '../headers.ts';

export interface PdfMethodOptions {
  /** The gateway's host name: the password notice comes from postmaster@ it. */
  hostname: string;
}

export function pdfMethod(o: PdfMethodOptions): EncryptionMethod {
  return {
    name: 'pdf',

    async availableFor(): Promise<Availability> {
      return { ok: true, detail: 'password-protected PDF (password to the sender)' };
    },

    async encrypt(input: EncryptInput): Promise<MethodResult> {
      // The password must reach someone who can pass it on: the sender, never a bounce address.
      const passwordTo = input.envelopeSender || input.sender;
      if (!passwordTo) throw new Error('no sender to give the PDF password to');
      const password = generatePdfPassword();
      const rendered = await renderMessagePdf(input.message, { userPassword: password, now: input.now });
      const message = await buildCoverMail({ original: input.message, pdf: rendered.pdf, subject: rendered.subject, senderAddress: input.sender || passwordTo });
      const notice = await buildPasswordNotice({
        from: `postmaster@${o.hostname}`,
        to: passwordTo,
        recipients: input.recipients,
        subject: rendered.subject,
        password,
        messageId: getHeader(headerBlock(input.message), 'Message-ID'),
        date: input.now,
      });
      return {
        message,
        detail: { format: 'PDF, AES-256 (PDF 1.7 extension level 3)', pdfBytes: rendered.pdf.length, attachments: rendered.attachments, passwordTo },
        sideMails: [{ to: passwordTo, message: notice }],
      };
    },
  };
}
