// Every hard MIME message of the shared corpus (../shared/mime: Stalwart's parser tests,
// mime4j and Perl MIME-tools messages) goes through the modify step, as outbound mail
// (disclaimer) and as inbound mail (banner). None may crash it; each is either changed
// correctly (the block is in the text or HTML postal-mime reads, every attachment has
// the same bytes as before) or delivered unchanged with a reason in the trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import libqp from 'libqp';
import { sharedDir } from '../helpers/authvectors.ts';
import { applyBodyChanges } from '../../src/pipeline/modify/apply-changes.ts';
import { buildBodyConfig } from '../../src/pipeline/modify/body-config.ts';
import { leafParts, type LeafPart } from '../helpers/mime-parts.ts';

const MIME_DIR = path.join(sharedDir(), 'mime');
const absent = existsSync(MIME_DIR) ? false : `shared test data is absent: ${MIME_DIR} not found (set HERMES_SHARED_DIR)`;

function corpusFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...corpusFiles(p));
    else if (/\.(msg|eml)$/.test(name)) out.push(p);
  }
  return out;
}

const DISCLAIMER = 'Corpus disclaimer: confidential.';
const BANNER = 'Corpus banner: external sender.';

const config = buildBodyConfig({
  templates: [
    { id: 1, name: 'legal', kind: 'disclaimer', text_body: DISCLAIMER, html_body: null, created_at: 0, updated_at: 0, images: [] },
    { id: 2, name: 'ext', kind: 'banner', text_body: BANNER, html_body: null, created_at: 0, updated_at: 0, images: [] },
  ],
  rules: [
    { id: 1, kind: 'disclaimer', template_id: 1, scope: 'all', value: '*', internal: 1, enabled: 1, created_at: 0 },
    { id: 2, kind: 'banner', template_id: 2, scope: 'all', value: '*', internal: 0, enabled: 1, created_at: 0 },
  ],
  exemptions: [],
  groups: [],
  senderFields: new Map(),
});

/** As SMTP delivers it: CRLF line ends. */
function asReceived(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** A changed part's text: transfer encoding and charset decoded, from its (new) headers. */
function decodedText(leaf: LeafPart): string {
  const enc = (leaf.encoding || '').toLowerCase();
  const bytes = enc === 'base64' ? Buffer.from(leaf.body.toString('latin1'), 'base64') : enc === 'quoted-printable' ? libqp.decode(leaf.body) : leaf.body;
  const cs = (leaf.charset || 'utf-8').toLowerCase();
  return iconv.encodingExists(cs) ? iconv.decode(bytes, cs) : bytes.toString('latin1');
}

test('every shared hard MIME message goes through the modify step: changed correctly, or unchanged with a reason', { skip: absent }, async () => {
  const files = corpusFiles(MIME_DIR);
  assert.ok(files.length >= 150, `corpus has ${files.length} messages`);
  const tally = { changed: 0, unchanged: 0 };
  const reasons = new Map<string, number>();
  for (const file of files) {
    const message = asReceived(readFileSync(file));
    const before = await leafParts(message);
    for (const inbound of [false, true]) {
      const kind = inbound ? 'banner' : 'disclaimer';
      const block = inbound ? BANNER : DISCLAIMER;
      const res = await applyBodyChanges(config, {
        message,
        fromOurNetwork: !inbound,
        clientIp: inbound ? '192.0.2.1' : '10.0.0.1',
        envelopeSender: 'sender@corpus.test',
        recipients: ['rcpt@elsewhere.test'],
        relayDomains: new Set(['corp.test']),
        receivedAt: new Date(0),
      });
      const t = (res.trace?.[kind] ?? {}) as { parts?: string[]; skipped?: string };
      const where = `${path.relative(MIME_DIR, file)} (${kind})`;
      if (!res.changed) {
        assert.equal(res.message, message, `${where}: unchanged means the very same bytes`);
        assert.ok(t.skipped, `${where}: unchanged without a reason: ${JSON.stringify(res.trace)}`);
        const r = t.skipped.replace(/^not changed: /, '').replace(/ in part [\d.A-Z]+$/, '').replace(/: .*/, '');
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
        tally.unchanged++;
        continue;
      }
      tally.changed++;
      assert.ok(t.parts?.length, `${where}: changed, so the trace names the parts`);
      const after = await leafParts(res.message);
      const changed = new Set(t.parts!.map((p) => p.split(' ')[0]!));
      assert.deepEqual([...after.keys()], [...before.keys()], `${where}: the same parts in the same order`);
      for (const [nr, leaf] of after) {
        if (changed.has(nr)) {
          const text = decodedText(leaf);
          assert.ok(text.includes(block) || text.includes(block.replace(/:/, '&#58;')), `${where}: part ${nr} carries the ${kind}: ${JSON.stringify(text.slice(-200))}`);
          assert.ok(!before.get(nr)!.raw.equals(leaf.raw));
        } else assert.ok(leaf.raw.equals(before.get(nr)!.raw), `${where}: part ${nr} is byte-identical`);
      }
    }
  }
  // Most of the corpus has a readable text body; the rest is said why in the trace.
  assert.ok(tally.changed > tally.unchanged, JSON.stringify({ tally, reasons: Object.fromEntries(reasons) }));
  console.log(JSON.stringify({ messages: files.length, ...tally, unchangedBecause: Object.fromEntries(reasons) }));
});
