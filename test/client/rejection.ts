import { QuarryError } from '@quarry/client';

/** The QuarryError a promise rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejection(p: Promise<unknown>): Promise<QuarryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof QuarryError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}
