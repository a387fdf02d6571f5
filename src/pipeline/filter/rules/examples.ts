// Example rules shipped with every install, disabled. The first is Hermes's own
// recommendation: users' "report junk/phishing" in Outlook sends the message on to
// Microsoft's addresses; the admin usually wants those reports instead (they may hold
// internal mail that must not leave, and they show what users consider spam).
import type { MessageRule } from './types.ts';

/** A redirect target no install has: `hermes rules enable NAME --target ADDRESS` sets a real one. */
export const PLACEHOLDER_TARGET = 'admin@example.invalid';

export const MICROSOFT_REPORT_ADDRESSES = [
  'junk@office365.microsoft.com',
  'phish@office365.microsoft.com',
  'abuse@messaging.microsoft.com',
  'submissions@messaging.microsoft.com',
];

export const EXAMPLE_RULES: readonly Omit<MessageRule, 'id' | 'enabled'>[] = [
  {
    name: 'redirect-microsoft-junk-reports',
    description:
      "Recommended: mail sent to Microsoft's junk and phishing report addresses goes to an admin mailbox instead " +
      '(enable with --target your-admin-address)',
    priority: 10,
    match: 'any',
    conditions: MICROSOFT_REPORT_ADDRESSES.map((a) => ({ field: 'recipient' as const, op: 'equals' as const, value: a })),
    actions: [{ action: 'redirect', value: PLACEHOLDER_TARGET }],
  },
  {
    name: 'quarantine-script-attachments',
    description: 'Example: hold mail carrying script files (.js, .vbs, .wsf, .hta) as attachments',
    priority: 50,
    match: 'any',
    conditions: [{ field: 'attachment', op: 'regex', value: '\\.(js|jse|vbs|vbe|wsf|hta)$' }],
    actions: [{ action: 'quarantine' }],
  },
  {
    name: 'score-urgent-payment-requests',
    description: 'Example: add 2 points when the subject speaks of an invoice or payment and the body asks for urgency',
    priority: 100,
    match: 'all',
    conditions: [
      { field: 'header', header: 'Subject', op: 'regex', value: '\\b(invoice|payment|wire transfer)\\b' },
      { field: 'body', op: 'regex', value: '\\b(urgent|immediately|today)\\b' },
    ],
    actions: [{ action: 'score', value: 2 }, { action: 'header', value: 'X-Hermes-Rule: payment-request' }],
  },
  {
    name: 'tag-large-messages',
    description: 'Example: mark messages over 20 MB with a header',
    priority: 200,
    match: 'all',
    conditions: [{ field: 'size', op: 'gt', value: 20 * 1024 * 1024 }],
    actions: [{ action: 'header', value: 'X-Hermes-Large: yes' }],
  },
];
