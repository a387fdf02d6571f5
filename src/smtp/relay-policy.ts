// The relay decision for each RCPT TO, from a snapshot of the policy tables. The
// snapshot is rebuilt whenever the configuration serial changes, so CLI and console
// edits apply to the next SMTP session without a restart. Never an open relay: a
// recipient is accepted only for a relay domain, or from a relay network.
import type { Db } from '../db/database.ts';
import type { RelayDomainRow } from '../db/schema.ts';
import { configSerial, loadSettings, type Settings } from '../config/settings.ts';
import { listRelayDomains, listRelayNetworks } from '../db/repos/relay-policy.ts';
import { NetworkSet } from './cidr.ts';
import { formatRoute, parseNextHop, routeFromNextHop } from '../delivery/route.ts';

export type RcptDecision =
  | { ok: true; route: string; requireTls: boolean; inbound: boolean }
  | { ok: false; code: number; enhanced: string; message: string };

export class PolicySnapshot {
  constructor(
    readonly serial: number,
    readonly domains: Map<string, RelayDomainRow>,
    readonly recipients: Set<string>,
    readonly networks: NetworkSet,
    readonly settings: Settings,
  ) {}

  isRelayClient(ip: string): boolean {
    return this.networks.contains(ip);
  }

  /** `ourClient`: may relay anywhere (in the relay networks, or signed in on a submission port). */
  decideRecipient(clientIp: string, address: string, ourClient = this.isRelayClient(clientIp)): RcptDecision {
    const addr = address.toLowerCase();
    const at = addr.lastIndexOf('@');
    if (at <= 0) return { ok: false, code: 501, enhanced: '5.1.3', message: 'Bad recipient address syntax' };
    const domain = addr.slice(at + 1);
    const relay = this.domains.get(domain);
    if (relay) {
      // A client outside our networks cannot route through us to another domain (our own
      // clients may relay anywhere, so routing syntax gives them nothing new).
      if (!this.settings['smtp.allowRoutedAddresses'] && !ourClient && hidesAnotherDestination(addr.slice(0, at))) {
        return { ok: false, code: 554, enhanced: '5.7.1', message: `<${address}>: Relay access denied (sender-specified routing)` };
      }
      if (relay.recipient_mode === 'specified' && !this.recipients.has(addr) && !this.recipients.has(`*@${domain}`)) {
        return { ok: false, code: 550, enhanced: '5.1.1', message: `<${address}>: Recipient address rejected: User unknown` };
      }
      return { ok: true, route: formatRoute(routeFromNextHop(relay.next_hop, domain)), requireTls: relay.require_tls === 1, inbound: true };
    }
    if (ourClient) {
      const smarthost = this.settings['delivery.smarthost'];
      const route = smarthost ? { kind: 'host' as const, ...parseNextHop(smarthost) } : { kind: 'mx' as const, domain };
      return { ok: true, route: formatRoute(route), requireTls: false, inbound: false };
    }
    return { ok: false, code: 554, enhanced: '5.7.1', message: `<${address}>: Relay access denied` };
  }

  /** Route for mail we originate (DSNs): relay domains go to their next hop, others outward. */
  routeFor(address: string): { route: string; requireTls: boolean } {
    const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
    const relay = this.domains.get(domain);
    if (relay) return { route: formatRoute(routeFromNextHop(relay.next_hop, domain)), requireTls: relay.require_tls === 1 };
    const smarthost = this.settings['delivery.smarthost'];
    return { route: formatRoute(smarthost ? { kind: 'host', ...parseNextHop(smarthost) } : { kind: 'mx', domain }), requireTls: false };
  }
}

/**
 * Whether a local part carries routing a downstream server might honour: the percent
 * hack (user%other.example), a bang path (other.example!user), or a quoted local part
 * with an "@" ("user@other.example"@our.domain). Postfix refuses these for relay
 * domains (allow_untrusted_routing=no).
 */
export function hidesAnotherDestination(localPart: string): boolean {
  return /[%!@]/.test(localPart);
}

export class PolicyStore {
  #snapshot: PolicySnapshot | null = null;
  #loading: Promise<PolicySnapshot> | null = null;
  readonly #listeners: Array<(s: PolicySnapshot) => void> = [];

  constructor(private readonly db: Db) {}

  /** The current snapshot, reloaded first if the configuration serial moved. */
  async current(): Promise<PolicySnapshot> {
    const serial = await configSerial(this.db);
    if (this.#snapshot && this.#snapshot.serial === serial) return this.#snapshot;
    this.#loading ??= this.#load(serial).finally(() => (this.#loading = null));
    return this.#loading;
  }

  /** The last loaded snapshot without a database round trip (for hot paths mid-session). */
  cached(): PolicySnapshot {
    if (!this.#snapshot) throw new Error('policy not loaded');
    return this.#snapshot;
  }

  onChange(fn: (s: PolicySnapshot) => void): void {
    this.#listeners.push(fn);
  }

  async #load(serial: number): Promise<PolicySnapshot> {
    const [domains, networks, recipients, settings] = await Promise.all([
      listRelayDomains(this.db),
      listRelayNetworks(this.db),
      this.db.selectFrom('relay_recipients').select('pattern').execute(),
      loadSettings(this.db),
    ]);
    const snap = new PolicySnapshot(
      serial,
      new Map(domains.map((d) => [d.domain, d])),
      new Set(recipients.map((r) => r.pattern)),
      new NetworkSet(networks.map((n) => n.cidr)),
      settings,
    );
    this.#snapshot = snap;
    for (const fn of this.#listeners) fn(snap);
    return snap;
  }
}
