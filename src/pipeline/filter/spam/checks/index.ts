// The built-in checks, in the order they run.
import type { SpamCheck } from '../types.ts';
import type { RuleTable } from './rules.ts';
import { attachmentsCheck, ATTACHMENT_RULES } from './attachments.ts';
import { authCheck, AUTH_RULES } from './auth.ts';
import { capitalsCheck, CAPITALS_RULES } from './capitals.ts';
import { dateCheck, DATE_RULES } from './date.ts';
import { encodedWordsCheck, ENCODED_WORD_RULES } from './encoded-words.ts';
import { fromCheck, FROM_RULES } from './from.ts';
import { freemailCheck, FREEMAIL_RULES } from './freemail.ts';
import { headerStructureCheck, HEADER_STRUCTURE_RULES } from './header-structure.ts';
import { htmlCheck, HTML_RULES } from './html.ts';
import { linksCheck, LINK_RULES } from './links.ts';
import { mailerCheck, MAILER_RULES } from './mailer.ts';
import { mimeCheck, MIME_RULES } from './mime.ts';
import { messageIdCheck, MESSAGE_ID_RULES } from './message-id.ts';
import { obfuscationCheck, OBFUSCATION_RULES } from './obfuscation.ts';
import { receivedCheck, RECEIVED_RULES } from './received.ts';
import { subjectCheck, SUBJECT_RULES } from './subject.ts';

export {
  attachmentsCheck, authCheck, capitalsCheck, dateCheck, encodedWordsCheck, freemailCheck, fromCheck, headerStructureCheck, htmlCheck,
  linksCheck, mailerCheck, messageIdCheck, mimeCheck, obfuscationCheck, receivedCheck, subjectCheck,
};

export function defaultChecks(): SpamCheck[] {
  return [
    dateCheck, messageIdCheck, fromCheck, freemailCheck, headerStructureCheck, encodedWordsCheck, receivedCheck, mailerCheck, mimeCheck,
    htmlCheck, linksCheck, obfuscationCheck, capitalsCheck, subjectCheck, attachmentsCheck, authCheck,
  ];
}

/** Every symbol the built-in checks can emit, with its default score and description. */
export const BUILTIN_RULES: RuleTable = Object.freeze({
  ...DATE_RULES, ...MESSAGE_ID_RULES, ...FROM_RULES, ...FREEMAIL_RULES, ...HEADER_STRUCTURE_RULES, ...ENCODED_WORD_RULES, ...RECEIVED_RULES,
  ...MAILER_RULES, ...MIME_RULES,  ...HTML_RULES, ...LINK_RULES, ...OBFUSCATION_RULES, ...CAPITALS_RULES, ...SUBJECT_RULES, ...ATTACHMENT_RULES, ...AUTH_RULES,
});
