// Builds the notification context: inside the gateway (mail through its Acceptor and its
// per-copy stages) or from the CLI (the offline spool writer, DKIM signing only).
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/bootstrap.ts';
import type { Db } from '../db/database.ts';
import { loadMasterKey, type MasterKey } from '../keys/master-key.ts';
import { FilterConfigStore } from '../pipeline/decide/filter-config.ts';
import type { Stage } from '../pipeline/context.ts';
import { SigningKeyStore } from '../pipeline/sign/key-store.ts';
import { dkimSignStage } from '../pipeline/sign/sign-stage.ts';
import { LinkSigner } from '../portal/action-links.ts';
import type { ReleaseQueue } from '../quarantine/release-queue.ts';
import type { PolicyStore } from '../smtp/relay-policy.ts';
import type { NotifyContext } from './context.ts';
import { LocalMailer } from './local-mail.ts';

export interface NotifierOptions {
  db: Db;
  config: LoadedConfig;
  log: Logger;
  queue: ReleaseQueue;
  policy: PolicyStore;
  /** The per-copy pipeline stages; default: DKIM signing alone (the CLI). */
  stages?: readonly Stage[];
  masterKey?: () => MasterKey;
  holder: string;
}

export function openNotifier(o: NotifierOptions): NotifyContext {
  let key: MasterKey | null = null;
  const masterKey = o.masterKey ?? (() => (key ??= loadMasterKey(o.config.masterKeyFile)));
  const serial = () => o.policy.cached().serial;
  const stages = o.stages ?? [dkimSignStage({ keys: new SigningKeyStore({ db: o.db, masterKeyFile: o.config.masterKeyFile, serial }) })];
  const filterConfig = new FilterConfigStore(o.db, serial);
  let signer: Promise<LinkSigner> | null = null;
  return {
    db: o.db,
    settings: async () => (await o.policy.current()).settings,
    hostname: o.config.hostname,
    httpPort: o.config.http.port,
    mailer: new LocalMailer({ queue: o.queue, stages, policy: () => o.policy.current(), log: o.log }),
    links: () => (signer ??= LinkSigner.open(o.db, masterKey())),
    policies: async () => (await o.policy.current(), (await filterConfig.get()).policies),
    relayPolicy: () => o.policy.current(),
    certFile: o.config.tls.cert,
    spoolDir: o.config.storage.spool,
    log: o.log,
    holder: o.holder,
  };
}
