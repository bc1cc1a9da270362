import { z } from 'zod';
import { ConfigSchema } from './schema.ts';

/** JSON Schema of greenloop.yaml as a user writes it (input side: durations may be strings). */
export function configJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }), title: 'greenloop.yaml' };
}
