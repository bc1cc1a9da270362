import type { z } from 'zod';
import { urlPlaceholderServices } from '../placeholders.ts';

/**
 * Cross-field checks of an environment's services: `after` and `{{url.<service>}}` placeholders must name
 * services of the same environment and must not depend on each other in a cycle. Kept apart from the
 * schema so the deploy order (apps/worker deploy/order.ts) reads dependencies the same way.
 */

/** The parts of a service these checks read (structural, so the schema can use them on its own output). */
export interface ServiceRefs {
  name: string;
  after?: readonly string[];
  deploy: { provider: string; after?: readonly string[]; command?: readonly string[]; build?: readonly string[]; env?: Readonly<Record<string, string>> };
}

/** Templates of a service's deploy that may hold `{{url.<service>}}` (command or build argv, and env values). */
export function deployTemplates(service: ServiceRefs): string[] {
  return [...(service.deploy.command ?? []), ...(service.deploy.build ?? []), ...Object.values(service.deploy.env ?? {})];
}

/**
 * The services this one deploys after: its `after` (on the service or, as cloud-run always allowed, in
 * `deploy`), plus every service whose URL its deploy command or env names: that URL exists only once the
 * other service is up.
 */
export function serviceDependencies(service: ServiceRefs): string[] {
  const deps = new Set([...(service.after ?? []), ...(service.deploy.after ?? []), ...urlPlaceholderServices(deployTemplates(service))]);
  deps.delete(service.name);
  return [...deps];
}

interface EnvironmentRefs {
  services: readonly ServiceRefs[];
  tests: { command: readonly string[]; env: Readonly<Record<string, string>>; rerun?: unknown };
}

/** zod superRefine of an environment: every unknown name or cycle is an issue at the field that holds it. */
export function checkServiceRefs(env: EnvironmentRefs, ctx: z.RefinementCtx): void {
  const names = new Set(env.services.map((s) => s.name));
  const unknown = (svc: string, path: (string | number)[], what: string) => {
    if (!names.has(svc)) {
      ctx.addIssue({ code: 'custom', path, message: `${what} names unknown service "${svc}"; services of this environment: ${[...names].join(', ')}` });
    }
  };
  env.services.forEach((s, i) => {
    for (const a of s.after ?? []) unknown(a, ['services', i, 'after'], '"after"');
    for (const a of s.deploy.after ?? []) unknown(a, ['services', i, 'deploy', 'after'], '"after"');
    (s.deploy.command ?? []).forEach((arg, j) => {
      for (const u of urlPlaceholderServices([arg])) unknown(u, ['services', i, 'deploy', 'command', j], `{{url.${u}}}`);
    });
    for (const [k, v] of Object.entries(s.deploy.env ?? {})) {
      for (const u of urlPlaceholderServices([v])) {
        unknown(u, ['services', i, 'deploy', 'env', k], `{{url.${u}}}`);
        if (u === s.name)
          ctx.addIssue({
            code: 'custom',
            path: ['services', i, 'deploy', 'env', k],
            message: `{{url.${u}}} names the service itself; its URL is known only once it runs (use PORT)`,
          });
      }
    }
  });
  env.tests.command.forEach((arg, j) => {
    for (const u of urlPlaceholderServices([arg])) unknown(u, ['tests', 'command', j], `{{url.${u}}}`);
  });
  for (const [k, v] of Object.entries(env.tests.env)) for (const u of urlPlaceholderServices([v])) unknown(u, ['tests', 'env', k], `{{url.${u}}}`);
  const rerunPath: (string | number)[] = Array.isArray(env.tests.rerun) ? ['tests', 'rerun'] : ['tests', 'rerun', 'command'];
  const rerunArgv: unknown = Array.isArray(env.tests.rerun) ? env.tests.rerun : (env.tests.rerun as { command?: unknown } | undefined)?.command;
  if (Array.isArray(rerunArgv)) {
    rerunArgv.forEach((arg: unknown, j) => {
      if (typeof arg === 'string') for (const u of urlPlaceholderServices([arg])) unknown(u, [...rerunPath, j], `{{url.${u}}}`);
    });
  }
  const cycle = findCycle(env.services);
  if (cycle) {
    const i = env.services.findIndex((s) => s.name === cycle[0]);
    ctx.addIssue({
      code: 'custom',
      path: ['services', i, 'after'],
      message: `services depend on each other in a cycle: ${cycle.join(' → ')} (via "after" or {{url.*}})`,
    });
  }
}

/** A dependency cycle among known services, as a path that returns to its start, if there is one. */
export function findCycle(services: readonly ServiceRefs[]): string[] | undefined {
  const byName = new Map(services.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    const s = byName.get(name);
    if (!s) return undefined;
    state.set(name, 'visiting');
    stack.push(name);
    for (const d of serviceDependencies(s)) {
      const found = visit(d);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const s of services) {
    const found = visit(s.name);
    if (found) return found;
  }
  return undefined;
}
