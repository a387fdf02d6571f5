// A private certificate authority made with the openssl command: a root, an
// intermediate, and leaf certificates for chosen names and validity dates (openssl ca
// takes explicit start and end dates, so expired certificates can be made too).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  keyPem: string;
  certPem: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** "YYYYMMDDHHMMSSZ" for openssl ca, days from now (negative: in the past). */
function when(daysFromNow: number): string {
  return new Date(Date.now() + daysFromNow * 86_400_000).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

export class TestCa {
  readonly dir: string;
  readonly root: Issued;
  readonly intermediate: Issued;
  #n = 0;

  constructor(name = 'Hermes Test') {
    this.dir = mkdtempSync(join(tmpdir(), 'hermes-ca-'));
    this.root = this.#selfSigned(`${name} Root`);
    this.intermediate = this.#sign(this.root, { subject: `/CN=${name} Intermediate`, ca: true });
  }

  /** A leaf for `names` signed by the intermediate, valid from `fromDays` to `toDays` from now. */
  leaf(names: string[], o: { fromDays?: number; toDays?: number; issuer?: Issued } = {}): Issued {
    return this.#sign(o.issuer ?? this.intermediate, { subject: `/CN=${names[0]}`, names, fromDays: o.fromDays ?? -1, toDays: o.toDays ?? 90 });
  }

  /** Leaf + intermediate + root, the bundle an admin imports. */
  chain(leaf: Issued, withRoot = true): string {
    return leaf.certPem + this.intermediate.certPem + (withRoot ? this.root.certPem : '');
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #selfSigned(cn: string): Issued {
    const d = join(this.dir, `root`);
    mkdirSync(d);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '3650', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], d);
    return { keyPem: readFileSync(join(d, 'key.pem'), 'utf8'), certPem: readFileSync(join(d, 'cert.pem'), 'utf8') };
  }

  /** Signs a CSR (as a CA would) for `names`; returns the certificate PEM. */
  signCsr(csrPem: string, names: string[]): string {
    return this.#sign(this.intermediate, { subject: `/CN=${names[0]}`, names, csrPem }).certPem;
  }

  #sign(issuer: Issued, o: { subject: string; names?: string[]; ca?: boolean; fromDays?: number; toDays?: number; csrPem?: string }): Issued {
    const d = join(this.dir, `c${++this.#n}`);
    mkdirSync(d);
    writeFileSync(join(d, 'issuer.key'), issuer.keyPem);
    writeFileSync(join(d, 'issuer.pem'), issuer.certPem);
    writeFileSync(join(d, 'index.txt'), '');
    writeFileSync(join(d, 'serial'), `${(1000 + this.#n).toString(16).padStart(4, '0')}\n`);
    const ext = o.ca
      ? 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n'
      : `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${o.names!.map((n) => `DNS:${n}`).join(',')}\n`;
    writeFileSync(join(d, 'ca.cnf'), `[ca]\ndefault_ca=local\n[local]\ndir=.\ndatabase=index.txt\nserial=serial\nnew_certs_dir=.\ncertificate=issuer.pem\nprivate_key=issuer.key\ndefault_md=sha256\npolicy=any\nunique_subject=no\ncopy_extensions=none\n[any]\ncommonName=supplied\n[ext]\n${ext}`);
    if (o.csrPem) writeFileSync(join(d, 'req.pem'), o.csrPem);
    else openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.pem', '-subj', o.subject], d);
    openssl(['ca', '-batch', '-config', 'ca.cnf', '-extensions', 'ext', '-in', 'req.pem', '-out', 'cert.pem', '-notext',
      '-startdate', when(o.fromDays ?? -1), '-enddate', when(o.toDays ?? 3000)], d);
    return { keyPem: o.csrPem ? '' : readFileSync(join(d, 'key.pem'), 'utf8'), certPem: readFileSync(join(d, 'cert.pem'), 'utf8') };
  }
}
