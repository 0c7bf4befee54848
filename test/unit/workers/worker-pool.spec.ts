/**
 * The worker kit: one piscina wrapper for the inference, trainer and simulation workers. Runs a
 * small compiled task module (`test/fixtures/workers/kit-tasks.ts`) in real worker threads.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BadUserInputError, QuarryError, ServiceOverloadedError } from '../../../src/errors';
import {
  errorForThread,
  errorFromThread,
  transferListOf,
  WorkerPool,
  type WorkerPoolOptions,
} from '../../../src/workers/worker-pool';

const TASKS = path.resolve(__dirname, '../../fixtures/workers/kit-tasks.js');
const NAMES = { pool: 'test pool', workers: 'test workers', tasks: 'tasks' };

function pool(options: Partial<WorkerPoolOptions> = {}): WorkerPool {
  return new WorkerPool({ filename: TASKS, threads: 1, maxQueue: 4, names: NAMES, ...options });
}

describe('WorkerPool', () => {
  it('runs a task in a worker, moving the buffers both ways', async () => {
    const workers = pool({ workerData: { tag: 'settings' } });
    try {
      const values = Float64Array.from([1, 2, 3]);
      const result = await workers.run<{
        doubled: Float64Array;
        receivedBytes: number;
        workerData: unknown;
      }>('double', values, [values]);
      expect(Array.from(result.doubled)).toEqual([2, 4, 6]);
      expect(result.receivedBytes).toBe(24);
      expect(result.workerData).toEqual({ tag: 'settings' });
      expect(values.byteLength).toBe(0);
    } finally {
      await workers.destroy();
    }
  });

  it('refuses a task beyond the queue with SERVICE_OVERLOADED, sending nothing', async () => {
    const workers = pool({ maxQueue: 1 });
    try {
      const busy = workers.run('hold', 300);
      const queued = workers.run('hold', 1);
      const values = Float64Array.from([1, 2]);
      const refused = workers.run('double', values, [values]);
      await expect(refused).rejects.toBeInstanceOf(ServiceOverloadedError);
      await expect(refused).rejects.toMatchObject({
        message: 'The test workers are busy (1 tasks waiting); try again in a moment.',
        extensions: { code: 'SERVICE_OVERLOADED' },
      });
      expect(values.byteLength).toBe(16);
      await expect(busy).resolves.toBe(300);
      await expect(queued).resolves.toBe(1);
    } finally {
      await workers.destroy();
    }
  });

  it('gives a QuarryError thrown in a worker to the caller with its code and extensions', async () => {
    const workers = pool();
    try {
      const badInput = await workers.run('refuse', 'bad-input').catch((e: unknown) => e);
      expect(badInput).toBeInstanceOf(BadUserInputError);
      expect(badInput).toMatchObject({
        message: 'options.size must be a positive integer',
        extensions: {
          code: 'BAD_USER_INPUT',
          problems: [{ field: 'size', message: 'must be a positive integer' }],
          problemCount: 1,
        },
      });
      expect((badInput as Error).stack).toContain('kit-tasks');

      const notFound = await workers.run('refuse', 'not-found').catch((e: unknown) => e);
      expect(notFound).toBeInstanceOf(QuarryError);
      expect(notFound).toMatchObject({
        message: 'Model "42" does not exist.',
        extensions: { code: 'NOT_FOUND' },
      });

      const plain = await workers.run('refuse', 'plain').catch((e: unknown) => e);
      // Cloned in the host's realm, not jest's: compared by name.
      expect(plain).toMatchObject({ name: 'RangeError', message: 'size out of range' });
      expect(plain).not.toBeInstanceOf(QuarryError);
    } finally {
      await workers.destroy();
    }
  });

  it('refuses malformed options, naming them', () => {
    expect(() => pool({ threads: 0 })).toThrow(
      'options.threads must be an integer of 1 or more, got 0',
    );
    expect(() => pool({ threads: 1.5 })).toThrow('options.threads');
    expect(() => pool({ maxQueue: -1 })).toThrow(
      'options.maxQueue must be an integer of 0 or more, got -1',
    );
  });

  it('on destroy, finishes accepted tasks, says farewell to every thread, then refuses tasks', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quarry-kit-'));
    const file = path.join(dir, 'farewells');
    writeFileSync(file, '');
    const workers = pool({
      threads: 2,
      keepThreads: true,
      farewell: { name: 'farewell', task: () => ({ file }) },
    });
    try {
      const accepted = workers.run('hold', 100);
      await Promise.all([workers.destroy(), workers.destroy()]);
      await expect(accepted).resolves.toBe(100);
      const threads = readFileSync(file, 'utf8').trim().split('\n');
      expect(threads).toHaveLength(2);
      expect(new Set(threads).size).toBe(2);
      await expect(workers.run('hold', 1)).rejects.toThrow('The test pool has been destroyed.');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('transferListOf', () => {
  it('lists each buffer once, leaving shared memory and plain arrays out', () => {
    const buffer = new ArrayBuffer(16);
    const shared = new Float32Array(new SharedArrayBuffer(8));
    const list = transferListOf([
      new Float32Array(buffer),
      new Uint8Array(buffer, 4),
      shared,
      [1, 2],
      undefined,
    ]);
    expect(list).toEqual([buffer]);
  });
});

describe('errorForThread and errorFromThread', () => {
  it('turn a coded error into cloneable data and back', () => {
    const data = structuredClone(errorForThread(new BadUserInputError('no rows')));
    const rebuilt = errorFromThread(data);
    expect(rebuilt).toBeInstanceOf(BadUserInputError);
    expect(rebuilt).toMatchObject({ message: 'no rows', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('leave any other error as it is', () => {
    const error = new Error('plain');
    expect(errorForThread(error)).toBe(error);
    expect(errorFromThread(error)).toBe(error);
  });
});
