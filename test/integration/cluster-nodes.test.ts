// Three gateway nodes on one PostgreSQL (issue 13): mail sent to all three while the
// next hop never greets, one node killed with SIGKILL mid-load, then the hop fixed.
// Every message that got a 250 from any node reaches the sink (duplicates counted and
// allowed): the dead node's queue is delivered by the other two once its leases run out.
// A relay domain added through node 1's CLI is accepted by node 3's next session.
// Then PostgreSQL itself is killed under load: sessions get 4xx while it is down, nothing
// acknowledged is lost, and the nodes recover by themselves once it is back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { findFreePort, startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { assertNoStrandedRecipients } from '../helpers/queue-watchdog.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

const MESSAGES = Number(process.env.CLUSTER_MESSAGES ?? 240);
const LEASE_SEC = 10;

const cleanups: Array<() => Promise<unknown>> = [];
/** What the first test leaves running for the second. */
let cluster: { pg: PostgresCluster; nodes: TestGateway[]; sink: SmtpSink } | null = null;
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Accepts connections and never says a word: the next hop is down in the worst way. */
async function startSilentServer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A node of its own name (leases are held as "<nodeName>/<worker>") and one worker process. */
async function startNode(name: string, database: string, dnsServer?: string): Promise<TestGateway> {
  const gw = await createTestGateway({ database, ...(dnsServer ? { dnsServer } : {}) });
  cleanups.push(() => gw.cleanup());
  const file = join(gw.dataDir, 'hermes.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...cfg, nodeName: name, workers: 1 }, null, 2));
  return gw;
}

test(`three nodes on one PostgreSQL: ${MESSAGES} messages, one node killed mid-load, every acknowledged message delivered`, async () => {
  const pg = await startPostgres();
  cleanups.push(() => pg.stop());
  const database = await pg.createDatabase('cluster');
  const hopPort = await findFreePort();
  let silent: { close(): Promise<void> } | null = await startSilentServer(hopPort);
  cleanups.push(() => silent?.close() ?? Promise.resolve());

  const nodes = [await startNode('node1', database), await startNode('node2', database), await startNode('node3', database)];
  const [n1, n2, n3] = nodes as [TestGateway, TestGateway, TestGateway];
  await upsertRelayDomain(n1.db, { domain: 'example.com', nextHop: `127.0.0.1:${hopPort}` });
  await setSetting(n1.db, 'delivery.leaseSec', LEASE_SEC);
  await setSetting(n1.db, 'delivery.connectTimeoutSec', 2);
  await setSetting(n1.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 3, queueLifetimeSec: 86400 });
  await setSetting(n1.db, 'filter.enabled', false);
  await setSetting(n1.db, 'auth.verify', false);
  for (const n of nodes) await n.start();

  // Senders take turns over the nodes; node 2 is killed when half the messages are out.
  const acked = new Map<string, string>();
  const refused: string[] = [];
  let next = 0;
  let killed = false;
  const sender = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= MESSAGES) return;
      if (i === Math.floor(MESSAGES / 2) && !killed) {
        killed = true;
        await n2.kill();
      }
      const node = nodes[i % 3]!;
      const marker = `cluster-m${i}`;
      const r = await sendMessage(node.port, { from: 'bulk@outside.test', to: ['user@example.com'] }, simpleMessage({ from: 'bulk@outside.test', to: 'user@example.com', subject: marker }));
      if (r.ok) acked.set(marker, `node${(i % 3) + 1}`);
      else refused.push(`${marker}: ${r.response}`);
    }
  };
  await Promise.all(Array.from({ length: 6 }, sender));
  const byNode = [...acked.values()].reduce<Record<string, number>>((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {});
  assert.ok((byNode.node2 ?? 0) > 0, `node 2 acknowledged mail before it was killed: ${JSON.stringify(byNode)}`);
  assert.ok(acked.size >= MESSAGES / 2, `most messages were acknowledged (${acked.size}; refused: ${refused.slice(0, 3).join('; ')})`);

  // A change made on node 1 applies to node 3's next session.
  const late = await n1.cli(['domain', 'add', 'late.test', '--next-hop', `127.0.0.1:${hopPort}`]);
  assert.equal(late.code, 0, late.stderr);
  await eventually(
    async () => {
      const r = await sendMessage(n3.port, { from: 'bulk@outside.test', to: ['someone@late.test'] }, simpleMessage({ from: 'bulk@outside.test', to: 'someone@late.test', subject: 'cluster-late' }));
      if (r.ok) acked.set('cluster-late', 'node3');
      return r.ok ? true : null;
    },
    30_000,
    'node 3 accepts mail for the relay domain added on node 1',
  );

  // The hop comes back on the same port (queued recipients keep their route).
  await silent.close();
  silent = null;
  const sink = await startSmtpSink({ port: hopPort });
  cleanups.push(() => sink.stop());
  const t0 = Date.now();
  // Node 2's in-flight leases run out after LEASE_SEC; retries back off up to 3 s.
  const delivered = await eventually(
    async () => {
      const seen = new Map<string, number>();
      for (const m of await sink.messages()) {
        const marker = /^Subject: (cluster-\S+)/m.exec(m.raw.toString('latin1'))?.[1];
        if (marker) seen.set(marker, (seen.get(marker) ?? 0) + 1);
      }
      return [...acked.keys()].every((k) => seen.has(k)) ? seen : null;
    },
    180_000,
    `all ${acked.size} acknowledged messages at the sink`,
  ).catch(async (err: Error) => {
    const seen = new Set((await sink.messages()).map((m) => /^Subject: (cluster-\S+)/m.exec(m.raw.toString('latin1'))?.[1]));
    const missing = [...acked.entries()].filter(([k]) => !seen.has(k));
    throw new Error(`${err.message}: ${missing.length} missing, e.g. ${missing.slice(0, 5).map(([k, n]) => `${k} (${n})`).join(', ')}`);
  });
  const duplicates = [...delivered.values()].filter((n) => n > 1).length;
  console.log(`cluster: ${acked.size} acknowledged (${JSON.stringify(byNode)}), all delivered ${Date.now() - t0} ms after the hop came back; ${duplicates} delivered twice`);
  await assertNoStrandedRecipients(n1.db, { watchMs: 30_000 });
  cluster = { pg, nodes: [n1, n3], sink };
});

const markersAt = async (sink: SmtpSink): Promise<Set<string>> =>
  new Set((await sink.messages()).map((m) => /^Subject: (pgdown-\S+)/m.exec(m.raw.toString('latin1'))?.[1] ?? ''));

test('PostgreSQL killed under load: 4xx while it is down, nothing acknowledged lost, the nodes recover by themselves', async () => {
  assert.ok(cluster, 'the three-node test left its cluster running');
  const { pg, nodes, sink } = cluster;
  const acked: string[] = [];
  const replies: number[] = [];
  let i = 0;
  let stop = false;
  const sender = async (): Promise<void> => {
    while (!stop) {
      const marker = `pgdown-m${i++}`;
      const node = nodes[i % nodes.length]!;
      const r = await sendMessage(node.port, { from: 'bulk@outside.test', to: ['user@example.com'] }, simpleMessage({ from: 'bulk@outside.test', to: 'user@example.com', subject: marker }));
      if (r.ok) acked.push(marker);
      else replies.push(r.code);
      if (!r.ok) await new Promise((res) => setTimeout(res, 200));
    }
  };
  const senders = Array.from({ length: 4 }, sender);
  await new Promise((r) => setTimeout(r, 3000));
  await pg.kill();
  await new Promise((r) => setTimeout(r, 8000));
  const duringOutage = replies.length;
  await pg.restart();
  // The nodes take mail again by themselves.
  const before = acked.length;
  await eventually(() => acked.length > before + 5, 90_000, 'the nodes acknowledge mail again after PostgreSQL is back').catch((err: Error) => {
    stop = true;
    throw new Error(`${err.message}; replies ${[...new Set(replies)].join(', ')}; node output:\n${nodes[0]!.output().slice(-4000)}`);
  });
  stop = true;
  await Promise.all(senders);
  assert.ok(duringOutage > 0, 'sessions were refused while the database was down');
  const permanent = replies.filter((c) => c >= 500);
  assert.equal(permanent.length, 0, `no permanent refusal while the database was down (codes: ${[...new Set(replies)].join(', ')})`);
  await eventually(
    async () => {
      const seen = await markersAt(sink);
      return acked.every((m) => seen.has(m));
    },
    120_000,
    `all ${acked.length} messages acknowledged around the outage at the sink`,
  ).catch(async (err: Error) => {
    const seen = await markersAt(sink);
    throw new Error(`${err.message}: missing ${acked.filter((m) => !seen.has(m)).slice(0, 5).join(', ')}`);
  });
  console.log(`postgres outage: ${acked.length} acknowledged, ${replies.length} refused (codes ${[...new Set(replies)].join(', ')}), all delivered`);
});
