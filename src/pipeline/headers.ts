// Cheap header reading for the trace (Message-ID, Subject) without a full MIME parse.

/** The header block: bytes up to the first empty line. */
export function headerBlock(msg: Buffer, limit = 256 * 1024): string {
  const end = msg.indexOf('\r\n\r\n');
  const stop = end >= 0 ? Math.min(end + 2, limit) : Math.min(msg.length, limit);
  return msg.subarray(0, stop).toString('latin1');
}

/** First value of a header, unfolded, or null. */
export function getHeader(block: string, name: string): string | null {
  const re = new RegExp(`^${name}[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)`, 'im');
  const m = re.exec(block);
  return m ? m[1]!.replace(/\r?\n[ \t]/g, ' ').trim() : null;
}

/** Decodes RFC 2047 encoded words (B and Q) for display; unknown charsets stay encoded. */
export function decodeEncodedWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (whole, charset: string, enc: string, text: string) => {
    try {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      return new TextDecoder(charset.split('*')[0]!.toLowerCase(), { fatal: false }).decode(bytes);
    } catch {
      return whole;
    }
  });
}

/** Subject and Message-ID for the trace, decoded, with bounded length. */
export function traceHeaders(msg: Buffer): { subject: string | null; messageId: string | null } {
  const block = headerBlock(msg);
  const subject = getHeader(block, 'Subject');
  const messageId = getHeader(block, 'Message-ID');
  return {
    subject: subject === null ? null : decodeEncodedWords(Buffer.from(subject, 'latin1').toString('utf8')).slice(0, 500),
    messageId: messageId?.slice(0, 500) ?? null,
  };
}
