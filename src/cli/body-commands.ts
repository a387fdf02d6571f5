// Body changes from the command line: `hermes banner|disclaimer|signature ...` for
// templates, rules and exemptions, `hermes signature fields` for the per-sender fields,
// `hermes sender-group` for the groups rules can name, and `hermes preview` to see a
// message as it would leave with the changes that apply. Every change applies to
// running gateways at their next message, without a restart.
import { writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import type { BodyKind, TemplateImageInput } from '../db/repos/body-changes.ts';
import { cliActor } from '../services/actor.ts';
import {
  addBodyExemption,
  addBodyRule,
  addSenderGroupMember,
  getBodyTemplate,
  getSenderSignatureFields,
  listBodyExemptions,
  listBodyRules,
  listBodyTemplates,
  listSenderGroups,
  previewBodyChanges,
  removeBodyExemption,
  removeBodyRule,
  removeBodyTemplate,
  removeSenderGroupMember,
  saveBodyTemplate,
  setBodyRuleEnabled,
  setSenderSignatureFields,
} from '../services/body-service.ts';
import { printTable, withDataDir, withDb } from './context.ts';
import { readInputFile } from './read-input.ts';

type D = { dataDir: string };

function readText(file: string, what: string): string {
  return readInputFile(file, { what, stdin: true }).toString('utf8');
}

const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.gif': 'image/gif', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.svg': 'image/svg+xml' };

function parseImage(spec: string): TemplateImageInput {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new Error(`--image wants NAME=FILE (e.g. logo=logo.png), got "${spec}"`);
  const file = spec.slice(eq + 1);
  const type = IMAGE_TYPES[extname(file).toLowerCase()];
  if (!type) throw new Error(`--image ${spec}: use a .png, .gif, .jpg, .webp or .svg file`);
  const data = readInputFile(file, { what: 'image' });
  return { name: spec.slice(0, eq), contentType: type, filename: basename(file), data };
}

const PLACEHOLDER_HELP =
  'Placeholders: {{sender.address}} {{sender.name}} {{sender.domain}} {{date}} {{user.FIELD}} (per-sender fields, see "hermes signature fields")' +
  ' and, in HTML, {{image.NAME}} for an image added with --image NAME=FILE.';

function registerKind(program: Command, kind: BodyKind, description: string): void {
  const cmd = program.command(kind).description(description);

  const tpl = cmd.command('template').description(`${kind} templates (text and HTML versions)`);
  withDataDir(
    tpl
      .command('set <name>')
      .description(`create or replace a ${kind} template. ${PLACEHOLDER_HELP}`)
      .option('--text <text>', 'the plain-text version')
      .option('--text-file <file>', 'read the plain-text version from a file ("-": stdin)')
      .option('--html <html>', 'the HTML version (a fragment)')
      .option('--html-file <file>', 'read the HTML version from a file')
      .option('--image <name=file>', 'an inline image for the HTML version (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[]),
  ).action(async (name: string, o: D & { text?: string; textFile?: string; html?: string; htmlFile?: string; image: string[] }) => {
    const text = o.textFile ? readText(o.textFile, 'text file') : (o.text ?? null);
    const html = o.htmlFile ? readText(o.htmlFile, 'HTML file') : (o.html ?? null);
    if (text === null && html === null) throw new Error('give --text/--text-file, --html/--html-file or both');
    const images = o.image.map(parseImage);
    await withDb(o.dataDir, async (db) => {
      const r = await saveBodyTemplate(db, cliActor(), kind, { name, text, html, images });
      console.log(`${r.created ? 'created' : 'updated'} ${kind} template ${name}${images.length ? ` with ${images.length} image(s)` : ''}`);
    });
  });
  withDataDir(tpl.command('list').description(`list ${kind} templates`)).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const rows = (await listBodyTemplates(db, cliActor(), kind)).map((t) => ({
        name: t.name,
        versions: [t.text !== null ? 'text' : '', t.html !== null ? 'html' : ''].filter(Boolean).join('+'),
        images: t.images.join(',') || '-',
        text: (t.text ?? '').replace(/\s+/g, ' ').slice(0, 60),
      }));
      printTable(rows, ['name', 'versions', 'images', 'text']);
    });
  });
  withDataDir(tpl.command('show <name>').description('print a template')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const t = await getBodyTemplate(db, cliActor(), kind, name);
      console.log(`--- text\n${t.text ?? '(none: made from the HTML version)'}\n--- html\n${t.html ?? '(none: made from the text version)'}\n--- images: ${t.images.join(', ') || 'none'}`);
      const missing = t.missingImages;
      if (missing.length) console.log(`warning: the HTML refers to missing images: ${missing.join(', ')}`);
    });
  });
  withDataDir(tpl.command('remove <name>').description('remove a template (not while a rule uses it)')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeBodyTemplate(db, cliActor(), kind, name);
      console.log(`removed ${kind} template ${name}`);
    });
  });

  const rule = cmd.command('rule').description(`which ${kind} template applies to which mail`);
  const add = rule
    .command('add')
    .description(
      kind === 'banner'
        ? 'turn the banner on for inbound mail to a relay domain (--domain), or to all of them (--all); banners are off by default'
        : `add the ${kind} to outbound mail from a sender address, a sender group, a sender domain (and its subdomains) or all senders; the most specific rule wins`,
    )
    .requiredOption('--template <name>', `the ${kind} template to use`)
    .option('--domain <domain>', kind === 'banner' ? 'recipient relay domain' : 'sender domain')
    .option('--all', kind === 'banner' ? 'every relay domain' : 'every sender');
  if (kind !== 'banner') {
    add
      .option('--address <address>', 'one sender address')
      .option('--group <group>', 'a sender group (see "hermes sender-group")')
      .option('--internal', 'also on mail whose recipients are all in our relay domains (default: outside recipients only)');
  }
  withDataDir(add).action(async (o: D & { template: string; domain?: string; all?: boolean; address?: string; group?: string; internal?: boolean }) => {
    const picks = [o.domain && 'domain', o.address && 'address', o.group && 'group', o.all && 'all'].filter(Boolean) as string[];
    if (picks.length !== 1) throw new Error(`give exactly one of ${kind === 'banner' ? '--domain, --all' : '--address, --group, --domain, --all'}`);
    const scope = picks[0] === 'domain' && kind === 'banner' ? 'relay-domain' : picks[0]!;
    await withDb(o.dataDir, async (db) => {
      const value = o.domain ?? o.address ?? o.group;
      const { id } = await addBodyRule(db, cliActor(), kind, { template: o.template, scope, ...(value !== undefined ? { value } : {}), internal: !!o.internal });
      console.log(`${kind} rule ${id}: template ${o.template} for ${scope === 'all' ? 'all' : `${scope} ${o.domain ?? o.address ?? o.group}`}${o.internal ? ', internal mail too' : ''}`);
    });
  });
  withDataDir(rule.command('list').description(`list ${kind} rules`)).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const rows = (await listBodyRules(db, cliActor(), kind)).map((r) => ({ ...r, internal: r.internal ? 'yes' : 'no', enabled: r.enabled ? 'yes' : 'no' }));
      printTable(rows, ['id', 'scope', 'value', 'template', ...(kind === 'banner' ? [] : ['internal']), 'enabled']);
    });
  });
  for (const [verb, what] of [
    ['remove', 'remove a rule'],
    ['enable', 'turn a rule back on'],
    ['disable', 'turn a rule off without removing it'],
  ] as const) {
    withDataDir(rule.command(`${verb} <id>`).description(what)).action(async (id: string, o: D) => {
      const n = Number(id);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`"${id}" is not a rule id (see "hermes ${kind} rule list")`);
      await withDb(o.dataDir, async (db) => {
        if (verb === 'remove') await removeBodyRule(db, cliActor(), kind, n);
        else await setBodyRuleEnabled(db, cliActor(), kind, n, verb === 'enable');
        console.log(`${kind} rule ${n} ${verb === 'remove' ? 'removed' : `${verb}d`}`);
      });
    });
  }

  const ex = cmd.command('exempt').description(`senders and client networks that never get the ${kind}`);
  withDataDir(ex.command('add <type> <value>').description('exempt an "address", a "domain" (with its subdomains) or a client "network" (CIDR)')).action(
    async (type: string, value: string, o: D) => {
      await withDb(o.dataDir, async (db) => {
        await addBodyExemption(db, cliActor(), kind, type, value);
        console.log(`${kind}: ${type} ${value} exempt`);
      });
    },
  );
  withDataDir(ex.command('remove <type> <value>').description('remove an exemption')).action(async (type: string, value: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeBodyExemption(db, cliActor(), kind, type, value);
      console.log(`${kind}: ${type} ${value} no longer exempt`);
    });
  });
  withDataDir(ex.command('list').description('list exemptions')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => printTable(await listBodyExemptions(db, cliActor(), kind), ['type', 'value']));
  });
}

function parseFields(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`fields are given as FIELD=VALUE (e.g. title="Head of Sales"), got "${p}"`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1);
  }
  return out;
}

export function registerBodyChanges(program: Command): void {
  registerKind(program, 'banner', 'external-sender banner on inbound mail from outside (off until a rule turns it on for a relay domain)');
  registerKind(program, 'disclaimer', 'disclaimers on outbound mail, per sender address, group or domain');
  registerKind(program, 'signature', 'organisational signatures on outbound mail, with per-sender fields and inline images');

  const sig = program.commands.find((c) => c.name() === 'signature')!;
  const fields = sig.command('fields').description('per-sender fields for {{user.FIELD}} placeholders (name, title, phone, ...)');
  withDataDir(
    fields
      .command('set <address> <field=value...>')
      .description('set fields of a sender (an empty value removes a field)')
      .option('--replace', 'drop fields not given here'),
  ).action(async (address: string, pairs: string[], o: D & { replace?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      const f = await setSenderSignatureFields(db, cliActor(), address, parseFields(pairs), !!o.replace);
      console.log(`${address.toLowerCase()}: ${Object.entries(f).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') || '(no fields)'}`);
    });
  });
  withDataDir(fields.command('show <address>').description("show a sender's fields")).action(async (address: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const f = await getSenderSignatureFields(db, cliActor(), address);
      printTable(Object.entries(f).map(([field, value]) => ({ field, value })), ['field', 'value'], '(no fields)');
    });
  });

  const grp = program.command('sender-group').description('named groups of senders, for disclaimer and signature rules (--group)');
  withDataDir(grp.command('add <group> <member>').description('add an address, or *@domain, to a group')).action(async (group: string, member: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await addSenderGroupMember(db, cliActor(), group, member);
      console.log(`${member.toLowerCase()} is in group ${group.toLowerCase()}`);
    });
  });
  withDataDir(grp.command('remove <group> <member>').description('remove a member from a group')).action(async (group: string, member: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeSenderGroupMember(db, cliActor(), group, member);
      console.log(`removed ${member} from group ${group}`);
    });
  });
  withDataDir(grp.command('list [group]').description('list groups and members')).action(async (group: string | undefined, o: D) => {
    await withDb(o.dataDir, async (db) => printTable((await listSenderGroups(db, cliActor(), group)).map((m) => ({ name: m.group, member: m.member })), ['name', 'member']));
  });

  withDataDir(
    program
      .command('preview <file>')
      .description('show a message (.eml file) as it would leave with the banner, disclaimer and signature that apply; what was done goes to stderr')
      .requiredOption('--from <address>', 'envelope sender')
      .requiredOption('--to <addresses>', 'recipients, comma-separated')
      .option('--inbound', 'as mail from outside (banner rules apply)')
      .option('--outbound', 'as mail from our relay networks (disclaimer and signature rules apply)')
      .option('--client-ip <ip>', 'client address, for network exemptions', '192.0.2.1')
      .option('-o, --output <file>', 'write the message to a file instead of stdout'),
  ).action(async (file: string, o: D & { from: string; to: string; inbound?: boolean; outbound?: boolean; clientIp: string; output?: string }) => {
    if (o.inbound && o.outbound) throw new Error('give --inbound or --outbound, not both');
    const message = readInputFile(file);
    const recipients = o.to.split(',').map((s) => s.trim()).filter(Boolean);
    await withDb(o.dataDir, async (db) => {
      const res = await previewBodyChanges(db, cliActor(), {
        message,
        from: o.from,
        to: recipients,
        ...(o.outbound ? { direction: 'outbound' as const } : o.inbound ? { direction: 'inbound' as const } : {}),
        clientIp: o.clientIp,
      });
      console.error(`as ${res.direction} mail: ${res.changed ? 'changed' : 'unchanged'}`);
      for (const [kind, detail] of Object.entries(res.changes ?? {})) console.error(`  ${kind}: ${JSON.stringify(detail)}`);
      if (!res.changes) console.error('  no banner, disclaimer or signature rules are configured');
      if (o.output) writeFileSync(o.output, res.message);
      else process.stdout.write(res.message);
    });
  });
}
