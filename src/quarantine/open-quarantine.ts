// Builds the quarantine store and service for a data directory: inside the gateway
// (released mail goes through its Acceptor) or from another process such as the CLI
// (released mail goes straight into spool directory 0 and the index).
import type { LoadedConfig } from '../config/bootstrap.ts';
import type { Db } from '../db/database.ts';
import { PolicyStore } from '../smtp/relay-policy.ts';
import type { Acceptor } from '../spool/acceptor.ts';
import { openSpool } from '../spool/open-spool.ts';
import { QuarantineService, type HamLearner } from './quarantine-service.ts';
import { QuarantineStore, quarantineDir } from './quarantine-store.ts';
import { AcceptorReleaseQueue, SpoolReleaseQueue, type ReleaseQueue } from './release-queue.ts';

export interface OpenQuarantineOptions {
  db: Db;
  config: Pick<LoadedConfig, 'storage' | 'masterKeyFile'>;
  /** In the gateway: its acceptor and node. Without: the offline spool writer (node 0). */
  acceptor?: { acceptor: Acceptor; node: number };
  policy?: PolicyStore;
  learnHam?: HamLearner;
}

export interface OpenedQuarantine {
  store: QuarantineStore;
  service: QuarantineService;
  /** Where released (and the gateway's own) mail is queued. */
  releaseQueue: ReleaseQueue;
  close(): Promise<void>;
}

export function openQuarantine(o: OpenQuarantineOptions): OpenedQuarantine {
  const store = new QuarantineStore({ db: o.db, dir: quarantineDir(o.config.storage.data), masterKeyFile: o.config.masterKeyFile });
  const offline = o.acceptor ? null : new SpoolReleaseQueue(openSpool(o.config, o.db, 0), o.db);
  const releaseQueue = o.acceptor ? new AcceptorReleaseQueue(o.acceptor.acceptor, o.acceptor.node) : offline!;
  const policy = o.policy ?? new PolicyStore(o.db);
  const service = new QuarantineService({ store, releaseQueue, policy: () => policy.current(), ...(o.learnHam ? { learnHam: o.learnHam } : {}) });
  return {
    store,
    service,
    releaseQueue,
    async close() {
      await store.close();
      await offline?.close();
    },
  };
}
