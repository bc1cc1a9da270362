import { GreenloopError } from '@greenloop/core';

/** Resolves with the GreenloopError a promise rejects with; fails when it resolves or throws anything else. */
export function errorOf(p: Promise<unknown>): Promise<GreenloopError> {
  return p.then(
    () => {
      throw new Error('expected the deploy to fail');
    },
    (err: unknown) => {
      if (err instanceof GreenloopError) return err;
      throw err;
    },
  );
}
