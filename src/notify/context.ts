// What the notification jobs (digests, held-message notices, admin notifications) work
// with, in the gateway and in the CLI alike.
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import type { PolicyMap } from '../pipeline/decide/policy.ts';
import type { PolicySnapshot } from '../smtp/relay-policy.ts';
import type { LinkSigner } from '../portal/action-links.ts';
import type { LocalMailer } from './local-mail.ts';

export interface NotifyContext {
  db: Db;
  settings: () => Promise<Settings>;
  /** The gateway's host name (hermes.json). */
  hostname: string;
  /** The HTTPS port, for links when portal.baseUrl is not set. */
  httpPort: number;
  mailer: LocalMailer;
  links: () => Promise<LinkSigner>;
  /** The filter policies (which policy a recipient has, for held-message notices). */
  policies: () => Promise<PolicyMap>;
  /** Relay domains: only their recipients get digests and notices. */
  relayPolicy: () => Promise<PolicySnapshot>;
  /** The TLS certificate file and the spool directory (admin checks). */
  certFile: string;
  spoolDir: string;
  log: Logger;
  /** Who runs the job (for the job lock): "node0:1234", "cli:5678". */
  holder: string;
}

export function portalBase(s: Settings, hostname: string, httpPort: number): string {
  return (s['portal.baseUrl'] ?? `https://${hostname}${httpPort === 443 ? '' : `:${httpPort}`}`).replace(/\/+$/, '');
}

export function senderAddress(s: Settings, hostname: string): string {
  return s['notify.from'] ?? `postmaster@${hostname}`;
}
