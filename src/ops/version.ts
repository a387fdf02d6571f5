// The release this code is: the version in package.json (the repository root is two
// levels above this file both in src/ and in dist/).
import { readFileSync } from 'node:fs';

export function hermesVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
