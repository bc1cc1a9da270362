import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from './json-schema.ts';

describe('published JSON Schema', () => {
  it('matches the zod schema (run `npm run schema` after changing config/schema.ts)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../greenloop.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(configJsonSchema());
  });

  it('describes argv commands as arrays of strings and durations as strings or numbers', () => {
    const text = JSON.stringify(configJsonSchema());
    expect(text).toContain('"provider":{"type":"string","const":"cloud-run"}');
    expect(text).toContain('"command":{"minItems":1,"type":"array","items":{"type":"string"}}');
    expect(text).toContain('"readyTimeout":{"type":["string","number"]}');
  });
});
