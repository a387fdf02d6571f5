// Mail that is nothing but an attachment: no words from the sender, just a file. Worse
// when the file is one that runs code or hides other files (executables, scripts,
// archives, HTML, macro documents), as malware and phishing arrive this way.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const ATTACHMENT_RULES = defineRules({
  ATTACH_ONLY: { score: 0.5, description: 'Message carries attachments and (almost) no text' },
  ATTACH_ONLY_RISKY: {
    score: 2.0,
    description: 'Message carries no text, only an executable, script, archive, HTML or macro document',
  },
});

const RISKY_EXT =
  /\.(?:exe|scr|com|pif|bat|cmd|cpl|js|jse|vbs|vbe|wsf|wsh|hta|jar|msi|msp|lnk|ps1|reg|iso|img|vhdx?|zip|rar|7z|gz|tgz|bz2|xz|cab|ace|arj|html?|shtml|xhtml|svg|docm|xlsm|pptm|dotm|xlam|one)$/i;
const RISKY_TYPE = /^(?:application\/(?:x-msdownload|x-msdos-program|x-dosexec|x-executable|java-archive|javascript|x-javascript|hta|zip|x-zip-compressed|x-rar-compressed|vnd\.rar|x-7z-compressed|gzip|x-gzip|vnd\.ms-[a-z]+\.macroenabled\.[a-z0-9.]+)|text\/html)$/i;
/** Parts that routinely travel without text: signatures, invitations, delivery reports. */
const BENIGN_TYPE = /^(?:application\/(?:pkcs7-signature|x-pkcs7-signature|pgp-signature|pgp-keys|ics)|text\/calendar|message\/(?:delivery-status|disposition-notification))$/i;

export const attachmentsCheck: SpamCheck = {
  name: 'attachments',
  run(input, ctx) {
    const files = input.parsed.attachments.filter((a) => !a.related && !BENIGN_TYPE.test(a.mimeType));
    if (files.length === 0) return [];
    const words = ctx.text.replace(/\s+/g, ' ').trim();
    if (words.replace(/[^\p{L}\p{N}]/gu, '').length >= 20) return [];
    const out: SpamSymbol[] = [];
    const risky = files.some((a) => (a.filename && RISKY_EXT.test(a.filename.trim())) || RISKY_TYPE.test(a.mimeType));
    out.push(hit(ATTACHMENT_RULES, risky ? 'ATTACH_ONLY_RISKY' : 'ATTACH_ONLY'));
    return out;
  },
};
