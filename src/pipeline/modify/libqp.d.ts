// Types for libqp (quoted-printable, by the nodemailer author), which ships none.
declare module 'libqp' {
  /** Encodes bytes (or a UTF-8 string) as quoted-printable, without line wrapping. */
  export function encode(buffer: Buffer | string): string;
  /** Decodes quoted-printable text (a Buffer is read byte for byte). */
  export function decode(input: string | Buffer): Buffer;
  /** Adds soft line breaks so no line is longer than `lineLength`. */
  export function wrap(str: string, lineLength?: number): string;
  const libqp: { encode: typeof encode; decode: typeof decode; wrap: typeof wrap };
  export default libqp;
}
