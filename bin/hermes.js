#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx, so `npx hermes` works without a
// build step and signals (SIGTERM for a graceful stop) reach the gateway directly.

// Spool fsyncs run on libuv's thread pool; the default of 4 threads would serialise
// them under load. Must be set before anything touches the pool, hence dynamic imports.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { register } = await import('tsx/esm/api');
register();
await import('../src/cli/main.ts');
