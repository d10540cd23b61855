#!/usr/bin/env node
// The `vicino` command. Sources are TypeScript, run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main.ts');
await main(process.argv.slice(2), process.env);
