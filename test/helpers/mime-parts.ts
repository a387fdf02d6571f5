// The leaf parts of a message as mailsplit cuts them: an independent reading of what
// the body-changes step wrote, so tests can say which parts changed and which stayed
// byte for byte the same.
import { Splitter, type SplitterChunk } from '@zone-eu/mailsplit';

export interface LeafPart {
  /** Headers and body, exactly as in the message. */
  raw: Buffer;
  /** The body, still transfer-encoded. */
  body: Buffer;
  charset: string | false;
  encoding: string | false;
}

/** Every leaf (non-multipart) part, by part number ("1.2"). */
export async function leafParts(msg: Buffer): Promise<Map<string, LeafPart>> {
  const out = new Map<string, { head: Buffer; body: Buffer[]; charset: string | false; encoding: string | false }>();
  const s = new Splitter({ ignoreEmbedded: true });
  s.on('data', (d: SplitterChunk) => {
    if (d.type === 'node') {
      if (!d.multipart) out.set((d.partNr || []).join('.'), { head: d.getHeaders(), body: [], charset: d.charset, encoding: d.encoding });
    } else if (d.type === 'body') out.get((d.node.partNr || []).join('.'))?.body.push(d.value);
  });
  const ended = new Promise<void>((resolve, reject) => {
    (s as unknown as NodeJS.EventEmitter).on('end', resolve);
    (s as unknown as NodeJS.EventEmitter).on('error', reject);
  });
  s.end(msg);
  await ended;
  return new Map([...out].map(([k, v]) => [k, { raw: Buffer.concat([v.head, ...v.body]), body: Buffer.concat(v.body), charset: v.charset, encoding: v.encoding }]));
}

/** Raw bytes (headers + body) of every leaf part, by part number. */
export async function rawParts(msg: Buffer): Promise<Map<string, Buffer>> {
  return new Map([...(await leafParts(msg))].map(([k, v]) => [k, v.raw]));
}
