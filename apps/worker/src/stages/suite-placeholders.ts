import { type DeployedService, renderEnv, urlValues } from '@greenloop/core';
import { serviceUrlVar } from '../paths.ts';

/**
 * `{{url.<service>}}` for the suite: the URL it must call, i.e. whatever `GREENLOOP_URL_<SERVICE>` was set
 * to (the deployed URL, or a proxy in front of it). Adds those values to `values` and renders `tests.env`
 * into `env` in place, except where greenloop already set the variable itself (its own values win).
 */
export function withSuiteUrls(
  testsEnv: Readonly<Record<string, string>>,
  services: readonly DeployedService[],
  env: Record<string, string>,
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  const urls = Object.fromEntries(services.map((s) => [s.service, env[serviceUrlVar(s.service)] ?? s.url]));
  const all = { ...values, ...urlValues(urls) };
  for (const [k, v] of Object.entries(renderEnv(testsEnv, all))) if (env[k] === testsEnv[k]) env[k] = v;
  return all;
}
