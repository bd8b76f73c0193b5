#!/usr/bin/env node
// Launcher of the `trustroot` CLI (package.json "bin"): registers tsx's ESM loader for this
// process, then runs the TypeScript entry point. Needs Node 20.6+ (module.register).
import { fileURLToPath, URL } from 'node:url';
import { register } from 'tsx/esm/api';

// The project's own tsconfig, not whatever the caller's working directory holds.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/main.ts');
