// The words of digests and held-message notices, per language. A recipient picks one in
// the portal (recipient_prefs.language); otherwise digest.language applies. Dates stay
// in UTC ISO form in every language (unambiguous, and the portal shows the same).
// Only what the gateway itself writes is translated: subjects and senders are the mail's.

export const DIGEST_LANGUAGES = ['en', 'de', 'fr'] as const;
export type DigestLanguage = (typeof DIGEST_LANGUAGES)[number];

export const LANGUAGE_NAMES: Record<DigestLanguage, string> = { en: 'English', de: 'Deutsch', fr: 'Français' };

export interface DigestWords {
  subjectDigest: (n: number) => string;
  subjectNotice: (subject: string) => string;
  titleDigest: string;
  titleNotice: string;
  introDigest: (n: number, to: string) => string;
  introNotice: (to: string) => string;
  help: (hours: number) => string;
  from: string;
  date: string;
  category: string;
  score: string;
  message: string;
  actions: string;
  release: string;
  requestRelease: string;
  delete: string;
  allow: string;
  block: string;
  more: (n: number) => string;
  signIn: string;
  orGoTo: (url: string) => string;
  noSubject: string;
  signature: (host: string) => string;
  categories: Record<string, string>;
}

const en: DigestWords = {
  subjectDigest: (n) => `Quarantine digest: ${n} new message${n === 1 ? '' : 's'} held for you`,
  subjectNotice: (s) => `Held for you: ${s}`,
  titleDigest: 'Your quarantine digest',
  titleNotice: 'A message was held for you',
  introDigest: (n, to) => `${n} message${n === 1 ? ' was' : 's were'} held for ${to} since your last digest and not delivered.`,
  introNotice: (to) => `This message to ${to} was held by the mail gateway and not delivered.`,
  help: (h) => `Each link asks you to confirm first. Links work once and expire in ${h} hours.`,
  from: 'From',
  date: 'Date',
  category: 'Category',
  score: 'score',
  message: 'Message',
  actions: 'Actions',
  release: 'Release',
  requestRelease: 'Request release',
  delete: 'Delete',
  allow: 'Always allow',
  block: 'Block sender',
  more: (n) => `... and ${n} more: see the portal.`,
  signIn: 'Sign in to the portal',
  orGoTo: (u) => `(or go to ${u})`,
  noSubject: '(no subject)',
  signature: (h) => `The mail gateway ${h}`,
  categories: { spam: 'Spam', malware: 'Malware', banned: 'Banned attachment', badheader: 'Bad header', rule: 'Policy rule', auth: 'Failed authentication', malformed: 'Malformed' },
};

const de: DigestWords = {
  subjectDigest: (n) => `Quarantäne-Übersicht: ${n} neue ${n === 1 ? 'Nachricht' : 'Nachrichten'} für Sie zurückgehalten`,
  subjectNotice: (s) => `Für Sie zurückgehalten: ${s}`,
  titleDigest: 'Ihre Quarantäne-Übersicht',
  titleNotice: 'Eine Nachricht wurde für Sie zurückgehalten',
  introDigest: (n, to) => `Seit Ihrer letzten Übersicht ${n === 1 ? 'wurde 1 Nachricht' : `wurden ${n} Nachrichten`} an ${to} zurückgehalten und nicht zugestellt.`,
  introNotice: (to) => `Diese Nachricht an ${to} wurde vom Mail-Gateway zurückgehalten und nicht zugestellt.`,
  help: (h) => `Jeder Link fragt zuerst nach einer Bestätigung. Links funktionieren einmal und verfallen nach ${h} Stunden.`,
  from: 'Von',
  date: 'Datum',
  category: 'Kategorie',
  score: 'Punkte',
  message: 'Nachricht',
  actions: 'Aktionen',
  release: 'Freigeben',
  requestRelease: 'Freigabe anfragen',
  delete: 'Löschen',
  allow: 'Immer erlauben',
  block: 'Absender sperren',
  more: (n) => `... und ${n} weitere: siehe Portal.`,
  signIn: 'Im Portal anmelden',
  orGoTo: (u) => `(oder ${u} öffnen)`,
  noSubject: '(kein Betreff)',
  signature: (h) => `Das Mail-Gateway ${h}`,
  categories: { spam: 'Spam', malware: 'Schadsoftware', banned: 'Verbotener Anhang', badheader: 'Fehlerhafter Header', rule: 'Richtlinie', auth: 'Authentifizierung fehlgeschlagen', malformed: 'Fehlerhaft' },
};

const fr: DigestWords = {
  subjectDigest: (n) => `Résumé de quarantaine : ${n} ${n === 1 ? 'nouveau message retenu' : 'nouveaux messages retenus'} pour vous`,
  subjectNotice: (s) => `Retenu pour vous : ${s}`,
  titleDigest: 'Votre résumé de quarantaine',
  titleNotice: 'Un message a été retenu pour vous',
  introDigest: (n, to) => `${n === 1 ? '1 message a été retenu' : `${n} messages ont été retenus`} pour ${to} depuis votre dernier résumé et non distribués.`,
  introNotice: (to) => `Ce message pour ${to} a été retenu par la passerelle de messagerie et non distribué.`,
  help: (h) => `Chaque lien demande d'abord une confirmation. Les liens fonctionnent une fois et expirent après ${h} heures.`,
  from: 'De',
  date: 'Date',
  category: 'Catégorie',
  score: 'score',
  message: 'Message',
  actions: 'Actions',
  release: 'Libérer',
  requestRelease: 'Demander la libération',
  delete: 'Supprimer',
  allow: 'Toujours autoriser',
  block: "Bloquer l'expéditeur",
  more: (n) => `... et ${n} de plus : voir le portail.`,
  signIn: 'Se connecter au portail',
  orGoTo: (u) => `(ou aller sur ${u})`,
  noSubject: '(sans objet)',
  signature: (h) => `La passerelle de messagerie ${h}`,
  categories: { spam: 'Spam', malware: 'Logiciel malveillant', banned: 'Pièce jointe interdite', badheader: 'En-tête invalide', rule: 'Règle de politique', auth: 'Authentification échouée', malformed: 'Mal formé' },
};

const WORDS: Record<DigestLanguage, DigestWords> = { en, de, fr };

export function isDigestLanguage(v: unknown): v is DigestLanguage {
  return typeof v === 'string' && (DIGEST_LANGUAGES as readonly string[]).includes(v);
}

/** The words for `lang`; an unknown or missing language falls back to English. */
export function digestWords(lang: string | null | undefined): DigestWords {
  return isDigestLanguage(lang) ? WORDS[lang] : en;
}
