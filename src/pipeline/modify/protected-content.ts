// Signed or encrypted content is never changed: a change would break an S/MIME or PGP
// signature the recipient checks, or corrupt ciphertext. These tell why a message is
// left alone.

/** Why a MIME node (by its content type and Content-Type header) is protected, or null. */
export function protectedReason(contentType: string | false, contentTypeHeader: string): string | null {
  const ct = (contentType || '').toLowerCase();
  const header = contentTypeHeader.toLowerCase();
  switch (ct) {
    case 'multipart/signed':
      return /protocol\s*=\s*"?application\/pgp-signature/.test(header) ? 'PGP/MIME signed content (multipart/signed)' : 'S/MIME signed content (multipart/signed)';
    case 'multipart/encrypted':
      return /pgp/.test(header) ? 'PGP/MIME encrypted content (multipart/encrypted)' : 'encrypted content (multipart/encrypted)';
    case 'application/pkcs7-mime':
    case 'application/x-pkcs7-mime':
      return /smime-type\s*=\s*"?signed-data/.test(header) ? `S/MIME opaque-signed content (${ct})` : `S/MIME encrypted or signed content (${ct})`;
    case 'application/pkcs7-signature':
    case 'application/x-pkcs7-signature':
      return `S/MIME signature part (${ct})`;
    case 'application/pgp-encrypted':
    case 'application/pgp-signature':
      return `PGP/MIME content (${ct})`;
    default:
      return null;
  }
}

const INLINE_PGP = /^-----BEGIN PGP (SIGNED MESSAGE|MESSAGE)-----\s*$/m;

/** Inline PGP in a text body (decoded as a binary string): its armour must stay as it is. */
export function inlinePgpReason(text: string): string | null {
  const m = INLINE_PGP.exec(text);
  if (!m) return null;
  return m[1] === 'SIGNED MESSAGE' ? 'inline PGP signed text' : 'inline PGP encrypted text';
}
