// The contract between the encrypt stage and an encryption method (S/MIME, OpenPGP,
// password-protected PDF). The stage decides, per recipient, what the policy asks for
// and which method can do it; a method only answers "can I, for this recipient?" and
// turns a message into its encrypted (or signed) form. Methods never queue, hold or
// reject mail themselves: the stage does, and traces why. See docs/encryption.md.
export type EncryptionMethodName = 'smime' | 'pgp' | 'pdf';

/** The order the stage tries methods in under the 'always' policy (opportunistic: smime, pgp). */
export const FALLBACK_ORDER: readonly EncryptionMethodName[] = ['smime', 'pgp', 'pdf'];

/** Whether a method can serve one recipient now, and if not, why (the reason goes to the trace). */
export type Availability = { ok: true; detail?: string } | { ok: false; reason: string };

export interface EncryptInput {
  /**
   * The copy's message as it stands: header and body, CRLF line ends, the subject
   * keyword already removed. Trace headers the gateway put on top (Received,
   * Authentication-Results) are not part of it and stay outside the encryption.
   */
  message: Buffer;
  /** The From address (lower case): whose key signs, for `sign`. */
  sender: string;
  /** The envelope sender (MAIL FROM), '' for the null sender. */
  envelopeSender: string;
  /** The recipients this copy is for, every one of which availableFor() accepted. */
  recipients: string[];
  /** Also sign (when the method can and the sender has a key); the method says in its detail whether it did. */
  sign: boolean;
  now: Date;
}

/** A mail the method wants sent besides the message (e.g. the PDF password to the sender). */
export interface SideMail {
  /** Envelope recipient. */
  to: string;
  /** The complete message (headers and body, CRLF). */
  message: Buffer;
}

export interface MethodResult {
  /** The complete new message (outer headers From/To/Subject/Date/Message-ID kept, new MIME entity). */
  message: Buffer;
  /** For the trace: key fingerprints, algorithms, signed or not. */
  detail: Record<string, unknown>;
  /** Mails to queue with the message (queued by the stage's sendSideMail). */
  sideMails?: SideMail[];
}

export interface EncryptionMethod {
  readonly name: EncryptionMethodName;
  /**
   * Can this recipient get mail encrypted this way now (a valid, unrevoked, unexpired
   * key or certificate is known; for PDF: a password can be set)? Called for every
   * recipient of every outbound copy the policy wants encrypted: keep it quick (key
   * store reads, cached), never a slow network lookup unless the admin allowed it.
   */
  availableFor(recipient: string, now: Date): Promise<Availability>;
  /** Encrypts the message for `input.recipients` (all of them accepted by availableFor). */
  encrypt(input: EncryptInput): Promise<MethodResult>;
  /**
   * Signs without encrypting (the 'sign' policy); null when the sender has no key
   * (the reason in `unsignedReason`). Methods that cannot sign (PDF) leave it out.
   */
  sign?(input: Omit<EncryptInput, 'recipients'> & { recipients: string[] }): Promise<MethodResult | { unsignedReason: string }>;
}
