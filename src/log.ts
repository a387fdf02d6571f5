import pino, { type Logger } from 'pino';

/** Structured JSON logs on stdout; every message-related line carries its queueId. */
export function createLogger(level: string, name = 'hermes'): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
