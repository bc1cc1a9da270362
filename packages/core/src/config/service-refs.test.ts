import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { parseConfig } from './load.ts';
import { serviceDependencies } from './service-refs.ts';

const local = (name: string, extra: Record<string, unknown> = {}, deploy: Record<string, unknown> = {}) => ({
  name,
  ...extra,
  deploy: { provider: 'local', command: ['node', `${name}.js`], ...deploy },
});
const config = (services: unknown[], tests: Record<string, unknown> = {}) => ({
  version: 1,
  environments: { staging: { services, tests: { command: ['npm', 'test'], ...tests } } },
});

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('service references in config', () => {
  it('accepts after on every provider and url placeholders in deploy env, tests.env and tests.command', () => {
    const cfg = parseConfig(
      config(
        [
          local('back'),
          local('front', { after: ['back'] }, { env: { BACK_URL: '{{url.back}}' } }),
          { name: 'edge', deploy: { provider: 'command', command: ['deploy.sh', '{{url.front}}'], url: 'https://edge.example', after: ['front'] } },
        ],
        { env: { BASE_URL: '{{url.front}}' }, command: ['pytest', '--base-url={{ url.edge }}'] },
      ),
    );
    const services = cfg.environments.staging?.services ?? [];
    expect(services.map((s) => [s.name, serviceDependencies(s)])).toEqual([
      ['back', []],
      ['front', ['back']],
      ['edge', ['front']],
    ]);
  });

  it('names the field that holds an unknown service', () => {
    const issues = issuesOf(
      config([local('front', { after: ['backend'] }, { env: { API: 'http://x', BACK: '{{url.bak}}' }, after: ['nope'] })], {
        env: { BASE_URL: '{{url.frnt}}' },
        command: ['pytest', '{{url.edge}}'],
      }),
    );
    expect(issues).toEqual([
      expect.stringMatching(/^environments\.staging\.services\[0\]\.after: "after" names unknown service "backend"; services of this environment: front$/),
      expect.stringMatching(/^environments\.staging\.services\[0\]\.deploy\.after: "after" names unknown service "nope"/),
      expect.stringMatching(/^environments\.staging\.services\[0\]\.deploy\.env\.BACK: \{\{url\.bak\}\} names unknown service "bak"/),
      expect.stringMatching(/^environments\.staging\.tests\.command\[1\]: \{\{url\.edge\}\} names unknown service "edge"/),
      expect.stringMatching(/^environments\.staging\.tests\.env\.BASE_URL: \{\{url\.frnt\}\} names unknown service "frnt"/),
    ]);
  });

  it('rejects a dependency cycle, including one made by a url placeholder, and a service naming its own url', () => {
    const cyc = issuesOf(config([local('a', { after: ['b'] }), local('b', {}, { env: { A: '{{url.a}}' } })]));
    expect(cyc).toEqual([expect.stringMatching(/^environments\.staging\.services\[0\]\.after: services depend on each other in a cycle: a → b → a/)]);
    const self = issuesOf(config([local('a', {}, { env: { SELF: '{{url.a}}' } })]));
    expect(self).toEqual([expect.stringMatching(/deploy\.env\.SELF: \{\{url\.a\}\} names the service itself/)]);
  });
});
