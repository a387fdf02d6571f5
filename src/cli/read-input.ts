// Files named on the command line. A file that cannot be read fails the command with one
// line naming the file and the reason ("cannot read key file k.pem: ENOENT"), not a stack.
import { readFileSync } from 'node:fs';

export interface ReadInputOptions {
  /** What the file is, for the message: "image", "key file". */
  what?: string;
  /** "-" means standard input. */
  stdin?: boolean;
}

export function readInputFile(file: string, o: ReadInputOptions = {}): Buffer {
  try {
    return readFileSync(o.stdin && file === '-' ? 0 : file);
  } catch (err) {
    throw new Error(`cannot read ${o.what ? `${o.what} ` : ''}${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
