// RSA key pairs made ahead of need. Generating a 2048-bit RSA key takes 50-500 ms of
// CPU; the pool keeps a few ready (generated on libuv's thread pool, off the event
// loop), so issuing a certificate for a sender never makes an SMTP session wait.
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

export interface RsaKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export async function newRsaKeyPair(bits = 2048): Promise<RsaKeyPair> {
  const { privateKey, publicKey } = await generate('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export class RsaKeyPool {
  readonly #ready: RsaKeyPair[] = [];
  #filling: Promise<void> | null = null;

  constructor(
    private readonly size = 2,
    private readonly bits = 2048,
  ) {}

  /** A ready key if there is one (and the pool refills behind it); otherwise one made now. */
  async take(): Promise<RsaKeyPair> {
    const k = this.#ready.shift();
    this.fill();
    return k ?? newRsaKeyPair(this.bits);
  }

  get available(): number {
    return this.#ready.length;
  }

  /** Tops the pool up in the background; returns when it is full. */
  fill(): Promise<void> {
    this.#filling ??= (async () => {
      while (this.#ready.length < this.size) this.#ready.push(await newRsaKeyPair(this.bits));
    })().finally(() => (this.#filling = null));
    return this.#filling;
  }
}
