import { GreenloopError } from './errors.ts';

/**
 * Fills `{{name}}` placeholders in each argv element. Values are substituted into single elements and
 * never re-split, so a value with spaces or quotes stays one argument: there is no shell to inject into.
 * An unknown placeholder is an error rather than a silent empty string.
 */
export function renderArgv(argv: readonly string[], values: Readonly<Record<string, string>>): string[] {
  return argv.map((arg) => renderString(arg, values));
}

export function renderString(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{\s*([a-zA-Z][a-zA-Z0-9]*)\s*\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) {
      throw new GreenloopError(
        'PLACEHOLDER_UNKNOWN',
        `unknown placeholder {{${key}}} in "${template}"; available: ${Object.keys(values)
          .map((k) => `{{${k}}}`)
          .join(', ')}`,
      );
    }
    return v;
  });
}
