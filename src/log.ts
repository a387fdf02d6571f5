import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs on stdout; every message-related line carries its queueId.
 * Writes are buffered (not one write syscall per line on the event loop) and flushed on
 * exit, so per-message logging stays cheap at hundreds of messages a second.
 */
export function createLogger(level: string, name = 'hermes'): Logger {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const flush = () => {
    try {
      dest.flushSync();
    } catch {
      /* stdout already closed */
    }
  };
  process.once('exit', flush);
  const timer = setInterval(() => dest.flush(), 250);
  timer.unref();
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
