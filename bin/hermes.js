#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx, so `npx hermes` works without a
// build step and signals (SIGTERM for a graceful stop) reach the gateway directly.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
