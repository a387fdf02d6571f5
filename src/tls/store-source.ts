// The certificate store as a source for the listeners: the active certificates with
// their keys opened, and the config serial as the version (every store change bumps it).
import type { Db } from '../db/database.ts';
import { listCertificates, openCertificateKey } from '../db/repos/certificates.ts';
import { configSerial } from '../config/settings.ts';
import type { MasterKey } from '../keys/master-key.ts';
import type { CertificateSource, ServedCertificate } from './sni.ts';

export function storeSource(db: Db, masterKey: () => MasterKey): CertificateSource {
  return {
    version: () => configSerial(db),
    async certificates(): Promise<ServedCertificate[]> {
      const rows = (await listCertificates(db)).filter((r) => r.status === 'active' && r.cert_pem);
      return rows.map((r) => ({
        id: r.id,
        names: JSON.parse(r.names_json) as string[],
        keyPem: openCertificateKey(masterKey(), r),
        certPem: r.cert_pem!,
        isDefault: r.is_default === 1,
        notAfter: Number(r.not_after),
      }));
    },
  };
}
