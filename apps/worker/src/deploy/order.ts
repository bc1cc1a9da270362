import { ConfigError, type ServiceConfig } from '@greenloop/core';

/**
 * Groups services into waves that deploy in parallel; a service waits for the wave holding everything
 * named in its `after` (Cloud Run only; other providers have no dependencies).
 */
export function deployWaves(services: readonly ServiceConfig[]): ServiceConfig[][] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const deps = (s: ServiceConfig) => (s.deploy.provider === 'cloud-run' ? s.deploy.after : []);
  for (const s of services) {
    for (const d of deps(s)) if (!byName.has(d)) throw new ConfigError(`service "${s.name}" deploys after unknown service "${d}"`);
  }
  const waves: ServiceConfig[][] = [];
  const done = new Set<string>();
  while (done.size < services.length) {
    const wave = services.filter((s) => !done.has(s.name) && deps(s).every((d) => done.has(d)));
    if (wave.length === 0) {
      const stuck = services.filter((s) => !done.has(s.name)).map((s) => s.name);
      throw new ConfigError(`services ${stuck.join(', ')} depend on each other in a cycle ("after")`);
    }
    for (const s of wave) done.add(s.name);
    waves.push(wave);
  }
  return waves;
}
