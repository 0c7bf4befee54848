import { BadUserInputError } from '../../src/errors';

/** The BAD_USER_INPUT error `run` throws; fails the test when it throws none or another error. */
export function badUserInput(run: () => unknown): BadUserInputError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(BadUserInputError);
    expect((e as BadUserInputError).extensions.code).toBe('BAD_USER_INPUT');
    return e as BadUserInputError;
  }
  throw new Error('expected an error, got none');
}
