import { describe, expect, it } from 'vitest';
import { placeholderNames, renderArgv, renderEnv, urlPlaceholderServices, urlValues } from './placeholders.ts';

describe('placeholders', () => {
  it('fills {{url.<service>}} from a service → URL map, in argv and env, without re-splitting', () => {
    const values = { commit: 'abc', ...urlValues({ back: 'http://127.0.0.1:4100', 'front-web': 'http://127.0.0.1:4200' }) };
    expect(renderArgv(['curl', '{{url.back}}/x y', '{{ url.front-web }}'], values)).toEqual(['curl', 'http://127.0.0.1:4100/x y', 'http://127.0.0.1:4200']);
    expect(renderEnv({ BACK: '{{url.back}}', C: '{{commit}}' }, values)).toEqual({ BACK: 'http://127.0.0.1:4100', C: 'abc' });
  });

  it('rejects an unknown placeholder, listing what is available', () => {
    expect(() => renderArgv(['{{url.nope}}'], urlValues({ back: 'u' }))).toThrow(/unknown placeholder \{\{url\.nope\}\}.*available: \{\{url\.back\}\}/);
  });

  it('lists names and the services url placeholders refer to', () => {
    expect(placeholderNames('{{commit}}-{{url.a}}')).toEqual(['commit', 'url.a']);
    expect(urlPlaceholderServices(['{{url.a}}', 'x {{url.b}} {{url.a}}', '{{commit}}'])).toEqual(['a', 'b']);
  });
});
