// Writes packages/core/greenloop.schema.json for editors (`npm run schema`); a test keeps it in sync.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from './json-schema.ts';

const out = fileURLToPath(new URL('../../greenloop.schema.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out}`);
