// Held messages as the quarantine routes answer with them (see services/quarantine-service.ts).

export interface HeldRecipient {
  address: string;
  state: string;
  releasedAt: string | null;
  releasedAs: string | null;
}

export interface QuarantineItem {
  id: string;
  queueId: string;
  receivedAt: string;
  heldAt: string;
  direction: string;
  from: string;
  headerFrom: string | null;
  subject: string | null;
  messageId: string | null;
  category: string;
  score: number | null;
  reason: string;
  size: number;
  state: string;
  recipients: HeldRecipient[];
}

export interface MessageHeader {
  name: string;
  value: string;
}

export interface QuarantineDetail extends QuarantineItem {
  symbols: Array<{ name: string; score: number; description?: string }>;
  headers: MessageHeader[];
}

export interface MessageRendering {
  /** 'html' when the message has an HTML part, else 'text'. */
  kind: 'html' | 'text';
  /** The sanitised HTML (kind html); safe to put in a sandboxed iframe's srcdoc. */
  html: string | null;
  /** The plain text part (or the HTML's text when there is none). */
  text: string;
  /** Remote images left out (0 when remote content was allowed). */
  blockedRemote: number;
  attachments: Array<{ filename: string | null; mimeType: string; size: number }>;
}
