// The pathological messages of issue 12, built at any size (unit and integration tests).
const head = (id: string) =>
  `From: <sender@outside.test>\r\nTo: <user@corp.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <${id}@outside.test>\r\nMIME-Version: 1.0\r\n`;

/** A Subject folded into `lines` lines (issue 12: 40,000 lines, about 900 KB). Message-ID <folded@outside.test>. */
export function foldedSubject(lines: number): Buffer {
  const folds = Array.from({ length: lines }, (_, i) => ` w${i}abcdefghijklm`);
  return Buffer.from(`${head('folded')}Subject: start\r\n${folds.join('\r\n')}\r\nContent-Type: text/plain\r\n\r\nbody\r\n`);
}

/** A multipart with `n` empty parts (issue 12: 20,000). Message-ID <boundaries@outside.test>. */
export function emptyBoundaries(n: number): Buffer {
  return Buffer.from(`${head('boundaries')}Subject: boundaries\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n${'--B\r\n\r\n'.repeat(n)}--B--\r\n`);
}

/** The header lines every message above starts with. */
export const PLAIN_HEAD = head('x');
