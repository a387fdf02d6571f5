// Every configured next hop (a relay domain's next_hop, the smarthost) accepts a TCP
// connection and greets with SMTP 220, within the probe timeout.
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { parseNextHop } from '../../delivery/route.ts';
import { finding, type DoctorCheck } from './finding.ts';

/** Connects, waits for the greeting and EHLO, and says QUIT. Throws why it could not. */
export function probeSmtp(host: string, port: number, name: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = new SMTPConnection({ host, port, name, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs, tls: { rejectUnauthorized: false } });
    conn.once('error', (err: Error) => {
      conn.close();
      reject(err);
    });
    conn.connect(() => {
      conn.quit();
      resolve();
    });
  });
}

export const nextHopsCheck: DoctorCheck = async ({ config, domains, settings, probeTimeoutMs }) => {
  const hops = new Map<string, string[]>();
  for (const d of domains) if (d.next_hop) hops.set(d.next_hop, [...(hops.get(d.next_hop) ?? []), d.domain]);
  const smarthost = settings['delivery.smarthost'];
  if (smarthost) hops.set(smarthost, [...(hops.get(smarthost) ?? []), 'smarthost']);
  return Promise.all(
    [...hops].map(async ([hop, users]) => {
      const { host, port } = parseNextHop(hop);
      const subject = `${host}:${port}`;
      try {
        await probeSmtp(host, port, config.hostname, probeTimeoutMs);
        return finding('next-hop', subject, 'ok', `answers SMTP (for ${users.join(', ')})`);
      } catch (err) {
        return finding('next-hop', subject, 'fail', `no SMTP greeting: ${(err as Error).message} (for ${users.join(', ')})`,
          `Check that the mail server at ${subject} runs and that this gateway may connect to it (firewall); mail for ${users.join(', ')} waits in the queue meanwhile.`);
      }
    }),
  );
};
