// The digest job against a real database (SQLite, and PostgreSQL in the second pass):
// each recipient gets what was held since its own last digest, at most MAX_LINES listed
// and the rest counted, in its language; "never" and nothing-new send nothing; a second
// run sends nothing; only relay-domain recipients get one. The mailer is a stand-in that
// keeps the composed bytes (the end-to-end test sends real ones through the gateway).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import PostalMime from 'postal-mime';
import { withDb } from '../helpers/temp-db.ts';
import type { Db } from '../../src/db/database.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { saveRecipientPrefs, markDigestsSent } from '../../src/db/repos/recipient-prefs.ts';
import { LinkSigner } from '../../src/portal/action-links.ts';
import { MAX_LINES, runDigests } from '../../src/notify/digest-job.ts';
import type { NotifyContext } from '../../src/notify/context.ts';
import type { LocalMail, LocalMailer } from '../../src/notify/local-mail.ts';

const NOW = Date.UTC(2026, 5, 1, 12);
let seq = 0;

async function hold(db: Db, address: string, heldAt: number, subject: string, o: { state?: 'held' | 'released'; direction?: 'inbound' | 'outbound' } = {}): Promise<string> {
  const id = `Q${(++seq).toString().padStart(8, '0')}`;
  await db
    .insertInto('quarantine')
    .values({
      id, message_id: `M${id}`, received_at: heldAt - 100, held_at: heldAt, direction: o.direction ?? 'inbound', mail_from: 'spammer@outside.test', header_from: 'Spammer <spammer@outside.test>', subject,
      message_id_header: `<${id}@outside.test>`, category: 'spam', score: 7.5, symbols: '[]', reason: 'spam score', size: 1000, file: '', state: 'held', updated_at: heldAt,
    })
    .execute();
  await db.insertInto('quarantine_recipients').values({ quarantine_id: id, address, state: o.state ?? 'held', released_at: null, released_as: null }).execute();
  return id;
}

function context(db: Db, sent: LocalMail[]): NotifyContext {
  const mailer = { send: async (m: LocalMail) => (sent.push(m), `D${sent.length}`) } as unknown as LocalMailer;
  const signer = new LinkSigner(Buffer.alloc(32, 7));
  return {
    db,
    settings: () => loadSettings(db),
    hostname: 'mx.example.com',
    httpPort: 8443,
    mailer,
    links: async () => signer,
    policies: async () => { throw new Error('not used by digests'); },
    relayPolicy: async () => ({ domains: new Set(['example.com']) }) as never,
    certFile: '',
    spoolDir: '',
    log: pino({ level: 'silent' }),
    holder: 'test',
  };
}

test('digests: since each own last digest, capped and counted, in the chosen language, once', async () => {
  await withDb(async (db) => {
    const hour = 3_600_000;
    // alice: one digest a day ago; two held before it, one after.
    await markDigestsSent(db, ['alice@example.com'], NOW - 24 * hour);
    await hold(db, 'alice@example.com', NOW - 30 * hour, 'alice old one');
    await hold(db, 'alice@example.com', NOW - 26 * hour, 'alice old two');
    await hold(db, 'alice@example.com', NOW - 2 * hour, 'alice new');
    await hold(db, 'alice@example.com', NOW - 1 * hour, 'alice released', { state: 'released' });
    await hold(db, 'alice@example.com', NOW - 1 * hour, 'alice outbound', { direction: 'outbound' });
    // bob: never had one, more than a digest lists.
    for (let i = 0; i < MAX_LINES + 5; i++) await hold(db, 'bob@example.com', NOW - 10 * hour + i * 1000, `bob ${i}`);
    // carol reads German; dave wants none; erin's mail is older than her last digest.
    await saveRecipientPrefs(db, 'carol@example.com', { language: 'de' });
    await hold(db, 'carol@example.com', NOW - hour, 'carol eins');
    await saveRecipientPrefs(db, 'dave@example.com', { digest_frequency: 'never' });
    await hold(db, 'dave@example.com', NOW - hour, 'dave one');
    await hold(db, 'erin@example.com', NOW - 5 * hour, 'erin one');
    await markDigestsSent(db, ['erin@example.com'], NOW - 25 * hour);
    await saveRecipientPrefs(db, 'erin@example.com', { digest_frequency: 'weekly' });
    await markDigestsSent(db, ['frank@example.com'], NOW - 25 * hour);
    await hold(db, 'frank@example.com', NOW - 30 * hour, 'frank old');
    // Not a relay domain: no digest.
    await hold(db, 'someone@other.test', NOW - hour, 'other one');

    const sent: LocalMail[] = [];
    const progress: number[] = [];
    const r = await runDigests(context(db, sent), { now: NOW, onProgress: (p) => progress.push(p.digestsSent) });
    assert.ok(r.ran, 'the job ran');
    const to = sent.map((m) => m.to[0]).sort();
    assert.deepEqual(to, ['alice@example.com', 'bob@example.com', 'carol@example.com'], 'digests to alice, bob and carol only');
    assert.deepEqual(r.ran && { sent: r.result.digestsSent, listed: r.result.messagesListed, notDue: r.result.skippedNotDue, nothingNew: r.result.skippedNothingNew }, { sent: 3, listed: 1 + MAX_LINES + 5 + 1, notDue: 2, nothingNew: 1 }, 'the counts');
    assert.ok(progress.length >= 1 && progress.at(-1) === 3, `progress reported: ${progress.join(',')}`);

    const parse = async (address: string) => PostalMime.parse(sent.find((m) => m.to[0] === address)!.message);
    const alice = await parse('alice@example.com');
    assert.match(alice.text!, /alice new/, 'the new one is listed');
    assert.doesNotMatch(alice.text!, /alice old|alice released|alice outbound/, 'nothing from before her last digest, nothing released, nothing outbound');
    assert.equal(alice.subject, 'Quarantine digest: 1 new message held for you');

    const bob = await parse('bob@example.com');
    assert.equal(bob.subject, `Quarantine digest: ${MAX_LINES + 5} new messages held for you`);
    assert.equal((bob.text!.match(/^\d+\. bob /gm) ?? []).length, MAX_LINES, `${MAX_LINES} listed`);
    assert.match(bob.text!, /\.\.\. and 5 more: see the portal\./, 'the rest counted');
    assert.match(bob.text!, /^1\. bob 104$/m, 'newest first');

    const carol = await parse('carol@example.com');
    assert.equal(carol.subject, 'Quarantäne-Übersicht: 1 neue Nachricht für Sie zurückgehalten', 'German subject');
    assert.match(carol.text!, /Freigeben:\s+https:\/\/mx\.example\.com:8443\/portal\/link\/h1\./, 'German link labels');
    assert.match(carol.html!, /<html lang="de">/, 'the HTML says its language');

    // Again at once: nobody is due, nothing new.
    const again = await runDigests(context(db, sent), { now: NOW + 60_000 });
    assert.ok(again.ran && again.result.digestsSent === 0, 'a second run sends nothing');
    assert.equal(sent.length, 3, 'still three');
    // Forced: due or not, but still only what is new.
    const forced = await runDigests(context(db, sent), { now: NOW + 120_000, force: true });
    assert.ok(forced.ran, 'forced run ran');
    assert.deepEqual(sent.slice(3).map((m) => m.to[0]).sort(), ['dave@example.com', 'erin@example.com'], 'forced: dave (never) and erin (weekly) have something new; alice, bob, carol nothing new');
  });
});
