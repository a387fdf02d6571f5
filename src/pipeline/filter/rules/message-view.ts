// What a rule condition can look at, computed on first use and at most once per
// message: decoded headers, readable body text, the raw body, URLs, attachment names.
import type { Email } from 'postal-mime';
import { decodeEncodedWords } from '../../headers.ts';
import { ScanContext } from '../spam/context.ts';

/** Raw body beyond this is not searched (a regex over 100 MB would hold the session). */
const MAX_RAW_BODY = 1024 * 1024;

export interface RuleEnvelope {
  mailFrom: string;
  recipients: string[];
}

export class RuleMessage {
  #scan: ScanContext | null = null;
  #headers: Map<string, string[]> | null = null;
  #rawBody: string | undefined;

  constructor(
    readonly raw: Buffer,
    /** The parsed message; a getter so that rules about the envelope or size need no parse. */
    private readonly parse: () => Promise<Email>,
    readonly envelope: RuleEnvelope,
  ) {}

  #parsed: Email | null = null;

  /** Parses (once) when a rule needs the content; call before the synchronous getters below. */
  async load(): Promise<void> {
    if (!this.#parsed) this.#parsed = await this.parse();
  }

  get #email(): Email {
    if (!this.#parsed) throw new Error('RuleMessage.load() must run before content conditions');
    return this.#parsed;
  }

  get size(): number {
    return this.raw.length;
  }

  /** Decoded values of a header (every occurrence). */
  header(name: string): string[] {
    if (!this.#headers) {
      this.#headers = new Map();
      for (const h of this.#email.headers) {
        const v = decodeEncodedWords(h.value); // postal-mime leaves encoded words as they are
        this.#headers.set(h.key, [...(this.#headers.get(h.key) ?? []), v]);
      }
    }
    return this.#headers.get(name.toLowerCase()) ?? [];
  }

  #scanContext(): ScanContext {
    this.#scan ??= new ScanContext({ raw: this.raw, parsed: this.#email });
    return this.#scan;
  }

  get bodyText(): string {
    return this.#scanContext().text;
  }

  get rawBody(): string {
    if (this.#rawBody === undefined) {
      let end = this.raw.indexOf('\r\n\r\n');
      end = end < 0 ? this.raw.length : end + 4;
      this.#rawBody = this.raw.subarray(end, Math.min(this.raw.length, end + MAX_RAW_BODY)).toString('latin1');
    }
    return this.#rawBody;
  }

  get uris(): string[] {
    return this.#scanContext().urls.map((u) => u.url);
  }

  get attachmentNames(): string[] {
    return this.#email.attachments.map((a) => a.filename).filter((n): n is string => !!n);
  }
}
