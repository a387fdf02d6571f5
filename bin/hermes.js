#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm run build`, which `npm ci` runs through
// "prepare"), in this process, so signals (SIGTERM for a graceful stop) reach the
// gateway directly and start-up pays no TypeScript compilation.

// Spool fsyncs run on libuv's thread pool; the default of 4 threads would serialise
// them under load. Must be set before anything touches the pool, hence dynamic imports.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { existsSync } = await import('node:fs');
const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('hermes: the gateway is not built yet; run "npm run build" (npm ci does it) in ' + new URL('..', import.meta.url).pathname);
  process.exit(1);
}
await import(entry.href);
