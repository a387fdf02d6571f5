// Which certificate a TLS listener presents, chosen per connection by the name the
// client asks for (SNI), from the certificate store. Every listener (MX STARTTLS,
// submission 587/465, HTTPS) shares one TlsCertificates per process: it holds a
// secure context per stored certificate, reloads them when the store changes (a new,
// renewed or removed certificate applies to the next handshake, no restart), and falls
// back to the default certificate, and to the bootstrap self-signed one only while the
// store has no certificate at all. API described in docs/certificates.md.
import { createSecureContext, type SecureContext, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { dnsNames, nameCovered, parseCertificates } from './certificate-facts.ts';

/** A certificate as the listeners need it. */
export interface ServedCertificate {
  id: number;
  /** The DNS names it covers (wildcards as "*.example.com"). */
  names: string[];
  keyPem: string;
  /** Leaf first, then the chain. */
  certPem: string;
  isDefault: boolean;
  notAfter: number;
}

/** Where the certificates come from (the store: tls/store-source.ts; tests: a list). */
export interface CertificateSource {
  /** Changes whenever the certificates change (the config serial). */
  version(): Promise<number>;
  certificates(): Promise<ServedCertificate[]>;
}

export interface TlsCertificatesOptions {
  source: CertificateSource;
  /** The bootstrap certificate (tls.cert / tls.key of hermes.json). */
  fallback: { key: Buffer | string; cert: Buffer | string };
  /** The gateway's host name: a certificate covering it is the default when none is marked. */
  hostname: string;
  log: Logger;
  /** How often the source's version is checked (default 2 s). */
  recheckMs?: number;
}

interface DefaultCertificate {
  context: SecureContext;
  key: string | Buffer;
  cert: string | Buffer;
  /** null: the bootstrap certificate. */
  id: number | null;
}

interface Entry {
  served: ServedCertificate;
  context: SecureContext;
}

/** What tls.createServer, https.createServer (fastify's `https`) and smtp-server take. */
export interface SniServerOptions {
  key: string | Buffer;
  cert: string | Buffer;
  SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

/** The smtp-server instance fields this module keeps current (its default context). */
interface SmtpServerLike {
  secureContext: Map<string, SecureContext>;
}

export class TlsCertificates {
  readonly #o: TlsCertificatesOptions;
  #entries: Entry[] = [];
  #default: DefaultCertificate;
  #version = -1;
  #timer: NodeJS.Timeout | null = null;
  #reloading: Promise<boolean> | null = null;
  readonly #listeners: Array<() => void> = [];

  private constructor(o: TlsCertificatesOptions) {
    this.#o = o;
    this.#default = { context: createSecureContext({ key: o.fallback.key, cert: o.fallback.cert }), key: o.fallback.key, cert: o.fallback.cert, id: null };
  }

  /** Loads the store once and starts watching it. */
  static async open(o: TlsCertificatesOptions): Promise<TlsCertificates> {
    const t = new TlsCertificates(o);
    await t.refresh();
    t.#timer = setInterval(() => void t.refresh().catch((err) => o.log.warn({ err }, 'reloading TLS certificates failed')), o.recheckMs ?? 2000);
    t.#timer.unref();
    return t;
  }

  /** Options for a TLS server: the default certificate plus SNI selection. */
  serverOptions(): SniServerOptions {
    return { key: this.#default.key, cert: this.#default.cert, SNICallback: this.sniCallback };
  }

  /** node:tls SNICallback: the context for the requested name, else the default. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };

  contextFor(servername: string | undefined | null): SecureContext {
    return (servername ? this.#match(servername)?.context : undefined) ?? this.#default.context;
  }

  /** Which stored certificate a name gets (null: the bootstrap certificate). */
  certificateIdFor(servername: string | undefined | null): number | null {
    return (servername ? this.#match(servername)?.served.id : undefined) ?? this.#default.id;
  }

  /** Keeps a tls.Server's (or https.Server's) default certificate current for clients without SNI. */
  attachTlsServer(server: TlsServer): void {
    this.onChange(() => server.setSecureContext({ key: this.#default.key, cert: this.#default.cert }));
  }

  /** Keeps an smtp-server's default context current (used for clients without SNI). */
  attachSmtpServer(server: unknown): void {
    const s = server as SmtpServerLike;
    const apply = () => s.secureContext?.set('*', this.#default.context);
    apply();
    this.onChange(apply);
  }

  /** Called after each reload that changed something. */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** Reloads when the source's version moved; true when the certificates were reloaded. */
  refresh(): Promise<boolean> {
    this.#reloading ??= this.#reload().finally(() => (this.#reloading = null));
    return this.#reloading;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #reload(): Promise<boolean> {
    const version = await this.#o.source.version();
    if (version === this.#version) return false;
    const served = await this.#o.source.certificates();
    const now = Date.now();
    const entries: Entry[] = [];
    for (const s of served) {
      try {
        entries.push({ served: s, context: createSecureContext({ key: s.keyPem, cert: s.certPem }) });
      } catch (err) {
        // One broken row must not take the others (or the listener) down.
        this.#o.log.error({ err, certificate: s.id }, 'a stored certificate cannot be used for TLS');
      }
    }
    // Unexpired first, then the one valid longest: a renewed certificate wins over the old.
    entries.sort((a, b) => Number(b.served.notAfter > now) - Number(a.served.notAfter > now) || b.served.notAfter - a.served.notAfter);
    this.#entries = entries;
    this.#version = version;
    this.#default = this.#pickDefault(entries);
    this.#o.log.info({ certificates: entries.length, defaultCertificate: this.#default.id ?? 'bootstrap' }, 'TLS certificates loaded');
    for (const fn of this.#listeners) fn();
    return true;
  }

  #pickDefault(entries: Entry[]): DefaultCertificate {
    const chosen = entries.find((e) => e.served.isDefault) ?? entries.find((e) => nameCovered(this.#o.hostname, e.served.names)) ?? entries[0];
    if (!chosen) {
      const f = this.#o.fallback;
      return { context: createSecureContext({ key: f.key, cert: f.cert }), key: f.key, cert: f.cert, id: null };
    }
    return { context: chosen.context, key: chosen.served.keyPem, cert: chosen.served.certPem, id: chosen.served.id };
  }

  #match(servername: string): Entry | undefined {
    return this.#entries.find((e) => nameCovered(servername, e.served.names));
  }
}

/** A fixed list as a source (tests, tools). */
export function staticSource(list: ServedCertificate[]): CertificateSource {
  return { version: async () => 1, certificates: async () => list };
}

/** The names a PEM certificate covers (for building a ServedCertificate by hand). */
export function namesOfPem(certPem: string): string[] {
  const leaf = parseCertificates(certPem)[0];
  return leaf ? dnsNames(leaf) : [];
}
