/**
 * The built-in membership-query synthesis methods, a plugin module like any other
 * (`{ methods }`). Each works in the model's feature space on the labelled items and returns
 * new vectors with the items they came from.
 *
 * Base items are visited in successive random permutations of the eligible rows, so each
 * eligible item is used once before any is used twice (as SMOTE makes the same number of
 * synthetic items per minority item).
 */
import type { SynthesisMethod } from '../types';
import { gaussian } from './gaussian';
import { mixup } from './mixup';
import { smote } from './smote';

export * from './gaussian';
export * from './mixup';
export * from './smote';

/** The built-in methods. */
export const methods: SynthesisMethod<any>[] = [smote, mixup, gaussian];
