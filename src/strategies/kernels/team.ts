/**
 * A team of threads sharing one WebAssembly memory, for the distance passes of the batch
 * strategies: the thread running the strategy (the leader) publishes a pass, every thread that
 * has joined (helpers: the other inference workers) claims blocks of it until none is left, and
 * the leader continues once every block is done.
 *
 * Joining is dynamic: a helper that starts late (its worker was busy) joins the pass under way,
 * one that starts after the selection finished returns at once, and a leader alone does every
 * block itself. So no thread ever waits for a particular other thread (two selections sharing
 * a pool cannot deadlock), and the result does not depend on who computed which block: each
 * block writes only its own rows, and reductions over blocks run on the leader in block order.
 *
 * The control block, at the start of the memory:
 * - int32 `CLAIM`: `generation << 20 | next block`. Claiming is a compare-and-swap on the whole
 *   word, so a thread holding a stale pass can never claim a block of the next one.
 * - int32 `DONE`: blocks finished in the current pass; int32 `STATE`: 1 once finished; int32
 *   `FAILED`: blocks that threw (counted as done, so nobody waits for them; the leader throws).
 * - two parameter slots of {@link SLOT_VALUES} float64, used by alternate generations: a slot is
 *   rewritten only two generations later, after every block of the one between was claimed.
 */
import { createSharedMemory, instantiateKernel, type Kernel, type WasmMemory } from './simd-kernel';

const CLAIM = 0;
const DONE = 1;
const STATE = 2;
const FAILED = 3;
const FINISHED = 1;
const BLOCK_BITS = 20;
const BLOCK_MASK = (1 << BLOCK_BITS) - 1;
const GENERATIONS = 1 << (32 - BLOCK_BITS);
/** Float64 values of a parameter slot: pass kind, block count, then the pass's arguments. */
export const SLOT_VALUES = 32;
const SLOTS_AT = 64;
/** Bytes reserved for the control block; allocations start here. */
const CONTROL_BYTES = 4096;
const PAGE = 65536;
/** How long a waiting helper sleeps before it looks at the state again (a lost leader). */
const HELPER_WAIT_MS = 250;
/** Most blocks a pass may have. */
export const MAX_BLOCKS = BLOCK_MASK;

/** One block of a pass: `args` are the slot's arguments (after kind and block count). */
export type Pass = (team: TeamMemory, args: Float64Array, block: number) => void;

/** Typed views into the team's memory, refreshed after the memory grows. */
export class TeamMemory {
  readonly memory: WasmMemory;
  readonly kernel: Kernel;
  readonly #control: Int32Array;
  /** The error of the last block that threw on this thread. */
  lastError: unknown;

  constructor(memory: WasmMemory) {
    this.memory = memory;
    this.kernel = instantiateKernel(memory);
    this.#control = new Int32Array(memory.buffer, 0, 16);
  }

  get control(): Int32Array {
    return this.#control;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  slot(generation: number): Float64Array {
    return this.f64(SLOTS_AT + (generation & 1) * SLOT_VALUES * 8, SLOT_VALUES);
  }

  /**
   * Claims and runs blocks of the pass published in `CLAIM` until none is left; returns how many
   * it ran, and in `seen` the claim word it last saw.
   */
  work(passes: readonly Pass[], seen: { word: number }): number {
    const control = this.#control;
    const args = new Float64Array(SLOT_VALUES - 2);
    let ran = 0;
    for (;;) {
      const word = Atomics.load(control, CLAIM);
      seen.word = word;
      const block = word & BLOCK_MASK;
      const slot = this.slot(word >>> BLOCK_BITS);
      const kind = slot[0];
      const blocks = slot[1];
      if (block >= blocks) return ran;
      args.set(slot.subarray(2));
      // The slot was stable between the load and a successful swap: it is rewritten only after
      // every block of the next generation has been claimed.
      if (Atomics.compareExchange(control, CLAIM, word, word + 1) !== word) continue;
      try {
        passes[kind](this, args, block);
        ran++;
      } catch (error) {
        this.lastError = error;
        Atomics.add(control, FAILED, 1);
      } finally {
        if (Atomics.add(control, DONE, 1) + 1 === blocks) Atomics.notify(control, DONE);
      }
    }
  }
}

/**
 * The leader's side: owns the allocations and publishes passes. A team made with
 * {@link SelectionTeam.local} has no helpers; one made from a memory a pool sent has the
 * helpers that join it.
 */
export class SelectionTeam extends TeamMemory {
  readonly #passes: readonly Pass[];
  #top = CONTROL_BYTES;
  #generation = 0;

  constructor(memory: WasmMemory, passes: readonly Pass[]) {
    super(memory);
    this.#passes = passes;
    const word = Atomics.load(this.control, CLAIM);
    this.#generation = word >>> BLOCK_BITS;
  }

  /** A team of one thread over a new memory. */
  static local(passes: readonly Pass[]): SelectionTeam {
    return new SelectionTeam(createSharedMemory(1), passes);
  }

  /** `bytes` of zeroed memory, 16-byte aligned; grows the memory as needed. Returns its address. */
  alloc(bytes: number): number {
    const ptr = this.#top;
    const top = ptr + Math.ceil(bytes / 16) * 16;
    const have = this.memory.buffer.byteLength;
    if (top > have) this.memory.grow(Math.ceil((top - have) / PAGE));
    this.#top = top;
    return ptr;
  }

  /** A copy of `values` in the team's memory; returns its address. */
  putF32(values: Float32Array): number {
    const ptr = this.alloc(values.byteLength);
    this.f32(ptr, values.length).set(values);
    return ptr;
  }

  /**
   * Runs pass `kind` over `blocks` blocks with `args`, on every thread of the team; returns once
   * every block is done.
   */
  run(kind: number, blocks: number, args: readonly number[]): void {
    if (blocks <= 0) return;
    if (blocks > MAX_BLOCKS) throw new RangeError(`a pass has at most ${MAX_BLOCKS} blocks`);
    if (args.length > SLOT_VALUES - 2) throw new RangeError('too many pass arguments');
    const control = this.control;
    this.#generation = (this.#generation + 1) % GENERATIONS;
    const slot = this.slot(this.#generation);
    slot.fill(0);
    slot[0] = kind;
    slot[1] = blocks;
    slot.set(args, 2);
    Atomics.store(control, DONE, 0);
    Atomics.store(control, CLAIM, this.#generation << BLOCK_BITS);
    Atomics.notify(control, CLAIM);
    this.work(this.#passes, { word: 0 });
    for (;;) {
      const done = Atomics.load(control, DONE);
      if (done >= blocks) break;
      Atomics.wait(control, DONE, done);
    }
    const failed = Atomics.exchange(control, FAILED, 0);
    if (failed > 0) {
      const cause =
        this.lastError instanceof Error ? `: ${this.lastError.message}` : ' on a helper thread';
      throw new Error(`${failed} block(s) of selection pass ${kind} failed${cause}`);
    }
  }

  /** Ends the team: helpers return. Idempotent. */
  finish(): void {
    finishTeam(this.memory);
  }
}

/** Marks a team's memory finished and wakes its helpers (any thread, the pool's caller too). */
export function finishTeam(memory: WasmMemory): void {
  const control = new Int32Array(memory.buffer, 0, 16);
  Atomics.store(control, STATE, FINISHED);
  Atomics.notify(control, CLAIM);
}

/**
 * A helper's side: runs the blocks it can claim until the team is finished. Returns how many
 * blocks it ran.
 */
export function helpTeam(memory: WasmMemory, passes: readonly Pass[]): number {
  const team = new TeamMemory(memory);
  const control = team.control;
  const seen = { word: 0 };
  let ran = 0;
  while (Atomics.load(control, STATE) !== FINISHED) {
    ran += team.work(passes, seen);
    if (Atomics.load(control, STATE) === FINISHED) break;
    Atomics.wait(control, CLAIM, seen.word, HELPER_WAIT_MS);
  }
  return ran;
}
