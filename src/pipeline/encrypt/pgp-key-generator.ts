// Background generation of OpenPGP keys for internal senders. The PGP method asks for a
// key when an internal sender without one sends PGP mail; that message goes out
// unsigned (the trace says why) and the key is made after the session, one at a time,
// so no SMTP session ever waits for key generation. Requests live in memory: one lost
// in a restart is asked again by the sender's next message.
import type { Logger } from 'pino';
import { generatePgpKey, readPrivateKey } from './pgp-keys.ts';
import type { PgpKeyStore } from './pgp-key-store.ts';

export class PgpKeyGenerator {
  readonly #pending = new Set<string>();
  #running: Promise<void> | null = null;

  constructor(
    private readonly store: PgpKeyStore,
    private readonly log: Logger,
  ) {}

  /** Asks for a key for `address`; returns at once. */
  request(address: string): void {
    const a = address.toLowerCase();
    if (this.#pending.has(a)) return;
    this.#pending.add(a);
    this.#running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  /** Resolves when every requested key is made (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      for (const address of this.#pending) {
        try {
          if (!(await this.store.privateKey(address))) {
            const generated = await generatePgpKey({ address });
            await this.store.save(address, await readPrivateKey(generated.privateArmored), 'generated');
            this.log.info({ address, fingerprint: generated.info.fingerprint }, 'OpenPGP key generated for internal sender');
          }
        } catch (err) {
          this.log.error({ err, address }, 'OpenPGP key generation failed');
        } finally {
          this.#pending.delete(address);
        }
      }
    } finally {
      this.#running = null;
      if (this.#pending.size) this.#running = this.#drain();
    }
  }
}
