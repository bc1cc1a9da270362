import { ConfigError, findCycle, type ServiceConfig, serviceDependencies } from '@greenloop/core';

/**
 * Deploy order of an environment's services: a service waits for everything it depends on (`after`, on
 * the service or in `deploy`, and every `{{url.<service>}}` its deploy names), on every provider;
 * independent services deploy in parallel.
 */

function checkNames(services: readonly ServiceConfig[]): void {
  const names = new Set(services.map((s) => s.name));
  for (const s of services) {
    for (const d of serviceDependencies(s)) if (!names.has(d)) throw new ConfigError(`service "${s.name}" deploys after unknown service "${d}"`);
  }
  const cycle = findCycle(services);
  if (cycle) throw new ConfigError(`services depend on each other in a cycle ("after"): ${cycle.join(' → ')}`);
}

/** Groups services into waves whose members have all their dependencies in earlier waves. */
export function deployWaves(services: readonly ServiceConfig[]): ServiceConfig[][] {
  checkNames(services);
  const waves: ServiceConfig[][] = [];
  const done = new Set<string>();
  while (done.size < services.length) {
    const wave = services.filter((s) => !done.has(s.name) && serviceDependencies(s).every((d) => done.has(d)));
    for (const s of wave) done.add(s.name);
    waves.push(wave);
  }
  return waves;
}

/** The outcome of deploying services in dependency order. */
export interface OrderedDeploy<T> {
  /** Services that came up, in the order they became ready (a valid dependency order: reverse it to tear down). */
  deployed: { service: ServiceConfig; value: T }[];
  /** The first failure; once one service fails, no further service is started. */
  failure?: { service: ServiceConfig; error: unknown };
  /** Services never started because of the failure, with why. */
  notStarted: { service: string; reason: string }[];
}

/**
 * Starts each service as soon as every service it depends on is ready, passing those already ready
 * (for `{{url.<service>}}`). When one fails, nothing new starts (its dependants can't work, and the cycle is
 * lost anyway); the ones already starting are waited for, so the caller can stop them.
 */
export async function deployInOrder<T>(
  services: readonly ServiceConfig[],
  start: (service: ServiceConfig, ready: ReadonlyMap<string, T>) => Promise<T>,
): Promise<OrderedDeploy<T>> {
  checkNames(services);
  const ready = new Map<string, T>();
  const out: OrderedDeploy<T> = { deployed: [], notStarted: [] };
  const started = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const launch = () => {
    if (out.failure) return;
    for (const s of services) {
      if (started.has(s.name) || !serviceDependencies(s).every((d) => ready.has(d))) continue;
      started.add(s.name);
      const p = start(s, new Map(ready)).then(
        (value) => {
          ready.set(s.name, value);
          out.deployed.push({ service: s, value });
        },
        (error: unknown) => {
          out.failure ??= { service: s, error };
        },
      );
      running.set(
        s.name,
        p.finally(() => running.delete(s.name)),
      );
    }
  };
  launch();
  while (running.size > 0) {
    await Promise.race(running.values());
    launch();
  }
  for (const s of services) {
    if (started.has(s.name)) continue;
    const blocked = serviceDependencies(s).filter((d) => !ready.has(d));
    out.notStarted.push({
      service: s.name,
      reason:
        out.failure && blocked.includes(out.failure.service.name)
          ? `its dependency ${out.failure.service.name} failed to start`
          : `not started: ${out.failure?.service.name ?? 'a service'} failed`,
    });
  }
  return out;
}
