#!/usr/bin/env node
// The `greenloop` executable. Plain JavaScript so that an old Node.js gets a clear message (see
// scripts/check-node.js) before anything TypeScript is loaded.
import { requireNode } from '../../../scripts/check-node.js';

requireNode();
const { main } = await import('../src/main.ts');
process.exitCode = await main();
