import { GreenloopError } from './errors.ts';

/**
 * Fills `{{name}}` placeholders in each argv element. Values are substituted into single elements and
 * never re-split, so a value with spaces or quotes stays one argument: there is no shell to inject into.
 * An unknown placeholder is an error rather than a silent empty string. Names are identifiers, optionally
 * followed by `.<service>` (e.g. `{{url.backend}}`).
 */
export function renderArgv(argv: readonly string[], values: Readonly<Record<string, string>>): string[] {
  return argv.map((arg) => renderString(arg, values));
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z][a-zA-Z0-9]*(?:\.[a-z][a-z0-9-]*)?)\s*\}\}/g;

export function renderString(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (_, key: string) => {
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

/** Every value of a `NAME: template` map rendered (deploy.env, tests.env). */
export function renderEnv(env: Readonly<Record<string, string>>, values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, renderString(v, values)]));
}

/** Placeholder names used in a template, in order (duplicates kept). */
export function placeholderNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

/** Services named by `{{url.<service>}}` placeholders in the templates. */
export function urlPlaceholderServices(templates: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const t of templates) for (const n of placeholderNames(t)) if (n.startsWith('url.')) out.add(n.slice(4));
  return [...out];
}

/** `{{url.<service>}}` values for a service → URL map. */
export function urlValues(urls: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(urls).map(([svc, url]) => [`url.${svc}`, url]));
}
