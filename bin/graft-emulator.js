#!/usr/bin/env node
// The `graft-emulator` command: the OpenAI Responses API emulator on its own (`graft emulator`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/emulator/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('graft-emulator: dist/ is missing; run `npm run build` (npm ci runs it for you).');
  process.exit(1);
}
const { emulatorCommand } = await import(entry.href);
process.exitCode = await emulatorCommand(process.argv.slice(2));
