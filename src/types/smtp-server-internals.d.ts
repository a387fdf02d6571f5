// smtp-server exports its connection class under lib/ but ships no types for it.
declare module 'smtp-server/lib/smtp-connection.js' {
  export class SMTPConnection {}
}
