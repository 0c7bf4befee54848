import { ApiKey, ApiKeyRole } from '../../src/entities';
import { authorize, datasetScope, Permission } from '../../src/services/permissions';
import { ForbiddenError, NotFoundError } from '../../src/errors';

const A = '0b7f3c1e-8a52-4c0e-9d8e-6f1a2b3c4d5e';
const B = '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f';

function key(role: ApiKeyRole, datasetIds: string[] | null = null): ApiKey {
  return Object.assign(new ApiKey(), { id: 'k', name: 'test', role, datasetIds });
}

/**
 * Whether `authorize` lets the call through; a refusal must be FORBIDDEN (the role) or NOT_FOUND
 * (a dataset outside the scope), anything else fails the test.
 */
function allows(k: ApiKey, permission: Permission, datasetId?: string): boolean {
  try {
    authorize(k, permission, datasetId);
    return true;
  } catch (e) {
    const code = e instanceof NotFoundError ? 'NOT_FOUND' : 'FORBIDDEN';
    expect(e).toBeInstanceOf(code === 'NOT_FOUND' ? NotFoundError : ForbiddenError);
    expect((e as ForbiddenError).extensions.code).toBe(code);
    return false;
  }
}

const P = Permission;
const EXPECTED: Record<ApiKeyRole, Permission[]> = {
  [ApiKeyRole.ADMIN]: [
    P.READ_DATASET,
    P.CREATE_DATASET,
    P.WRITE_DATASET,
    P.READ_LABELS,
    P.WRITE_LABELS,
    P.MANAGE_MODELS,
    P.MANAGE_ROUNDS,
    P.ANNOTATE,
    P.MANAGE_KEYS,
  ],
  [ApiKeyRole.SERVICE]: [
    P.READ_DATASET,
    P.CREATE_DATASET,
    P.WRITE_DATASET,
    P.READ_LABELS,
    P.WRITE_LABELS,
    P.MANAGE_MODELS,
    P.MANAGE_ROUNDS,
    P.ANNOTATE,
  ],
  [ApiKeyRole.ANNOTATOR]: [P.READ_DATASET, P.ANNOTATE],
};

describe('authorize', () => {
  const cases = Object.values(ApiKeyRole).flatMap((role) =>
    Object.values(Permission).map((p): [ApiKeyRole, Permission, boolean] => [
      role,
      p,
      EXPECTED[role].includes(p),
    ]),
  );

  it.each(cases)('an unscoped %s key has %s: %s', (role, permission, granted) => {
    expect(allows(key(role), permission)).toBe(granted);
    if (permission !== P.CREATE_DATASET) {
      expect(allows(key(role), permission, A)).toBe(granted);
    }
  });

  it('names the role and the missing permission when it refuses', () => {
    expect(() => authorize(key(ApiKeyRole.ANNOTATOR), P.WRITE_LABELS, A)).toThrow(
      'This ANNOTATOR key may not do this (it needs the WRITE_LABELS permission).',
    );
  });

  describe('a key scoped to dataset A', () => {
    it.each([ApiKeyRole.SERVICE, ApiKeyRole.ANNOTATOR])(
      'lets a %s key act on A and on no other dataset',
      (role) => {
        const scoped = key(role, [A]);
        expect(allows(scoped, P.READ_DATASET, A)).toBe(true);
        for (const other of [B, 'not-a-uuid']) {
          expect(() => authorize(scoped, P.READ_DATASET, other)).toThrow(NotFoundError);
        }
        expect(allows(scoped, P.READ_DATASET)).toBe(true);
      },
    );

    it('still needs the permission for its own dataset', () => {
      expect(allows(key(ApiKeyRole.ANNOTATOR, [A]), P.WRITE_DATASET, A)).toBe(false);
      expect(allows(key(ApiKeyRole.SERVICE, [A]), P.MANAGE_KEYS, A)).toBe(false);
      expect(allows(key(ApiKeyRole.SERVICE, [A]), P.WRITE_DATASET, A)).toBe(true);
    });

    it('answers another dataset exactly as a dataset that does not exist (NOT_FOUND)', () => {
      expect(() => authorize(key(ApiKeyRole.SERVICE, [A]), P.WRITE_DATASET, B)).toThrow(
        new NotFoundError('Dataset', B),
      );
    });

    it('checks the role before the scope: FORBIDDEN for a permission the role lacks', () => {
      expect(() => authorize(key(ApiKeyRole.ANNOTATOR, [A]), P.WRITE_DATASET, B)).toThrow(
        ForbiddenError,
      );
    });

    it('may not create datasets, even as SERVICE', () => {
      expect(allows(key(ApiKeyRole.SERVICE, [A]), P.CREATE_DATASET)).toBe(false);
      expect(() => authorize(key(ApiKeyRole.SERVICE, [A]), P.CREATE_DATASET)).toThrow(
        'A key scoped to datasets may not create datasets.',
      );
      expect(allows(key(ApiKeyRole.SERVICE), P.CREATE_DATASET)).toBe(true);
    });

    it('accepts its dataset id written in capitals, as the database does', () => {
      expect(allows(key(ApiKeyRole.SERVICE, [A]), P.READ_DATASET, A.toUpperCase())).toBe(true);
      expect(allows(key(ApiKeyRole.SERVICE, [A.toUpperCase()]), P.READ_DATASET, A)).toBe(true);
      expect(allows(key(ApiKeyRole.SERVICE, [A]), P.READ_DATASET, B.toUpperCase())).toBe(false);
    });
  });

  it('lets a key scoped to no datasets act on none', () => {
    const none = key(ApiKeyRole.SERVICE, []);
    expect(allows(none, P.READ_DATASET, A)).toBe(false);
    expect(allows(none, P.CREATE_DATASET)).toBe(false);
  });

  it('lets a key scoped to several datasets act on each of them', () => {
    const both = key(ApiKeyRole.ANNOTATOR, [A, B]);
    expect(allows(both, P.READ_DATASET, A)).toBe(true);
    expect(allows(both, P.READ_DATASET, B)).toBe(true);
  });
});

describe('datasetScope', () => {
  it('is null (every dataset) for an unscoped key and the set of ids for a scoped one', () => {
    expect(datasetScope(key(ApiKeyRole.SERVICE))).toBeNull();
    expect([...datasetScope(key(ApiKeyRole.SERVICE, [A, B, A]))!].sort()).toEqual([A, B].sort());
    expect(datasetScope(key(ApiKeyRole.SERVICE, []))!.size).toBe(0);
  });
});
