import { describe, expect, it } from 'vitest';
import { failureShape, judgeProof } from './prove-verdict.ts';

const cluster = [
  { classname: 'agents', name: 'starts and stops', message: 'POST /api/agents/start → 404, expected 201 (request 4c1f9a2b77de at 127.0.0.1:43121)' },
  { classname: 'agents', name: 'lists sessions', message: 'POST /api/agents/start → 404, expected 201' },
];

describe('judgeProof', () => {
  it('rejects when a test fails as before, whatever port, id or duration the candidate run printed', () => {
    const v = judgeProof(cluster, [
      {
        classname: 'agents',
        name: 'starts and stops',
        status: 'failed',
        message: 'POST /api/agents/start → 404, expected 201 (request 9f00aa11bb22 at 127.0.0.1:39002)',
      },
      { classname: 'agents', name: 'lists sessions', status: 'passed' },
    ]);
    expect(v).toMatchObject({ proven: false, inconclusive: false });
    expect(v.tests.map((t) => t.result)).toEqual(['fails-again', 'passed']);
    expect(v.summary).toMatch(/^1 of 2 test\(s\) of the cluster still fail the same way/);
  });

  it('proves when the tests pass or get past the failure to another one (a bug hidden behind it)', () => {
    const v = judgeProof(cluster, [
      { classname: 'agents', name: 'starts and stops', status: 'failed', message: 'POST /api/agents/stop → 500, expected 200' },
      { classname: 'agents', name: 'lists sessions', status: 'passed' },
    ]);
    expect(v).toMatchObject({ proven: true, inconclusive: false });
    expect(v.summary).toBe(
      "the cluster's failure is gone on the deployed fix: 1 passed, 1 got past the cluster's failure and now fail differently of 2 test(s)",
    );
  });

  it('says nothing was proven when none of the tests ran', () => {
    const v = judgeProof(cluster, [{ classname: 'agents', name: 'starts and stops', status: 'skipped' }]);
    expect(v).toMatchObject({ proven: true, inconclusive: true });
    expect(v.summary).toMatch(/^none of the cluster's 2 test\(s\) ran/);
  });

  it('keeps status codes in the failure shape', () => {
    expect(failureShape('got 403 after 12ms')).not.toBe(failureShape('got 404 after 30ms'));
    expect(failureShape('got 403 after 12ms')).toBe(failureShape('got 403 after 30ms'));
  });
});
