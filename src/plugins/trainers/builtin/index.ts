import type { Trainer } from '../types';
import { mlp } from './mlp';
import { softmax } from './softmax';

/**
 * The built-in trainers, a plugin module like any other (`{ trainers }`). Self-contained: worker
 * threads `require` this module.
 */
export const trainers: Trainer<any>[] = [softmax, mlp];
