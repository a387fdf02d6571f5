// Automatic renewal of ACME certificates (worker 0 only): soon after start, then every
// acme.renewCheckSeconds, certificates within 30 days of expiry are renewed; a failure
// is retried later with a growing wait (see renewalRetryDelayMs) and reported (log,
// audit entry, doctor finding). The new certificate reaches every listener through the
// store (tls/sni.ts), no restart. With several nodes on one database the check runs on
// one node at a time (job lock 'certificate-renewal'), so a certificate is ordered once.
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { renewDueCertificates } from '../services/certificate-service.ts';
import { withJobLock } from '../notify/job-lock.ts';

export function startCertificateRenewal(o: { db: Db; masterKey: () => MasterKey; log: Logger; intervalMs: number; firstRunMs?: number; holder: string }): { stop(): void; runNow(): Promise<void> } {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= (async () => {
      try {
        await withJobLock(o.db, 'certificate-renewal', o.holder, () => renewDueCertificates(o.db, o.masterKey(), o.log));
      } catch (err) {
        o.log.error({ err }, 'certificate renewal check failed');
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const first = setTimeout(() => void run(), o.firstRunMs ?? Math.min(o.intervalMs, 60_000));
  const timer = setInterval(() => void run(), o.intervalMs);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
    runNow: run,
  };
}
