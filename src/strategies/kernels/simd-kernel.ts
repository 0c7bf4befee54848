/**
 * The distance kernels of the batch strategies, as a small WebAssembly module written out byte by
 * byte here (no toolchain, no binary blob): it is instantiated once per thread over one shared
 * `WebAssembly.Memory`, so every inference worker reads the same embeddings without a copy.
 *
 * Both kernels repeat, operation for operation, the double-precision arithmetic of the plain
 * TypeScript helpers in `../math.ts`, so they give bit-identical results and never change a pick:
 * - `sqdist` is `squaredDistance`: four running sums over the columns taken four at a time
 *   (lanes (s0, s1) and (s2, s3) of two `f64x2` registers: WebAssembly SIMD), the tail added to s0,
 *   then `s0 + s1 + (s2 + s3)`; two rows side by side, as their sums are independent. WebAssembly never fuses a multiply and an add, nor does V8 in JS.
 * - `dot` is `dot`: one running sum per row, in column order. A single sum is a chain of
 *   dependent additions, so four rows run side by side to keep the adder busy.
 *
 * Both take a list of row indices (int32), a centre already widened to float64 (`dim` values),
 * and write one float64 per listed row.
 */

import {
  body,
  bump,
  F64,
  get,
  i32c,
  I32,
  name,
  op,
  section,
  set,
  tee,
  uleb,
  V128,
} from './wasm-assembler';

/** `(emb, idx, n, centre, dim, out)` byte addresses and counts; see the module comment. */
export type KernelFunction = (
  emb: number,
  idx: number,
  n: number,
  centre: number,
  dim: number,
  out: number,
) => void;

export interface Kernel {
  /** out[i] = squaredDistance(row idx[i], centre). */
  sqdist: KernelFunction;
  /** out[i] = dot(row idx[i], centre). */
  dot: KernelFunction;
  /**
   * out[i] = the integer dot product of int8 row idx[i] of `q` (rows of `dim`, a multiple of 16,
   * values; the first argument) with an int16 centre of `dim` values: the filter of
   * `k-center.passes.ts`. Exact while dim x 127² fits in an int32.
   */
  qdot: KernelFunction;
}

/** Most 64 KiB pages a kernel memory may grow to (4 GiB, the most 32-bit addresses reach). */
export const MAX_PAGES = 65536;

/** The part of `WebAssembly.Memory` used here (the project's `lib` has no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * A new shared memory of `pages` 64 KiB pages that can grow to {@link MAX_PAGES}. It can be sent
 * to other threads (structured clone shares it, like a `SharedArrayBuffer`).
 */
export function createSharedMemory(pages = 1): WasmMemory {
  return new wasm.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
}

// Parameters of both functions.
const EMB = 0;
const IDX = 1;
const N = 2;
const CENTRE = 3;
const DIM = 4;
const OUT = 5;

/** `p = emb + idx[i] * dim * 4` for the row at list position `i + k`. */
function rowAddress(i: number, k: number, p: number): number[] {
  return [
    ...get(IDX),
    ...get(i),
    ...i32c(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.i32Load(4 * k),
    ...get(DIM),
    ...op.i32Mul,
    ...i32c(2),
    ...op.i32Shl,
    ...get(EMB),
    ...op.i32Add,
    ...set(p),
  ];
}

/**
 * The body of `sqdist`: two rows side by side (their four sums are independent chains of
 * additions, so they overlap), then the rest one by one.
 */
function sqdistBody(): number[] {
  const i = 6;
  const p = [7, 8];
  const cp = 9;
  const end4 = 10;
  const pend = 11;
  const d = 12; // v128 scratch
  const acc01 = [13, 14]; // v128: (s0, s1) of each row
  const acc23 = [15, 16]; // v128: (s2, s3)
  const s0 = [17, 18]; // f64
  const diff = 19; // f64
  const locals = [
    [6, I32],
    [5, V128],
    [3, F64],
  ];
  /** acc = acc + (promote(row + at) - centre[cp + 2*at])² over two lanes. */
  const pair = (acc: number, row: number, at: number) => [
    ...get(acc),
    ...get(row),
    ...op.v128Load64Zero(at),
    ...op.f64x2PromoteLowF32x4,
    ...get(cp),
    ...op.v128Load(2 * at),
    ...op.f64x2Sub,
    ...tee(d),
    ...get(d),
    ...op.f64x2Mul,
    ...op.f64x2Add,
    ...set(acc),
  ];
  const rowsLoop = (ways: number) => {
    const k = Array.from({ length: ways }, (_, w) => w);
    return [
      ...k.flatMap((w) => rowAddress(i, w, p[w])),
      ...get(CENTRE),
      ...set(cp),
      ...k.flatMap((w) => [...op.v128Zero, ...set(acc01[w]), ...op.v128Zero, ...set(acc23[w])]),
      ...get(p[0]),
      ...get(end4),
      ...op.i32Add,
      ...set(pend),
      // Four columns at a time.
      ...op.block,
      ...op.loop,
      ...get(p[0]),
      ...get(pend),
      ...op.i32GeU,
      ...op.brIf(1),
      ...k.flatMap((w) => [...pair(acc01[w], p[w], 0), ...pair(acc23[w], p[w], 8)]),
      ...k.flatMap((w) => bump(p[w], 16)),
      ...bump(cp, 32),
      ...op.br(0),
      ...op.end,
      ...op.end,
      // The tail, into s0.
      ...k.flatMap((w) => [...get(acc01[w]), ...op.f64x2ExtractLane(0), ...set(s0[w])]),
      ...get(DIM),
      ...i32c(3),
      ...op.i32And,
      ...i32c(2),
      ...op.i32Shl,
      ...get(p[0]),
      ...op.i32Add,
      ...set(pend),
      ...op.block,
      ...op.loop,
      ...get(p[0]),
      ...get(pend),
      ...op.i32GeU,
      ...op.brIf(1),
      ...k.flatMap((w) => [
        ...get(p[w]),
        ...op.f32Load(),
        ...op.f64PromoteF32,
        ...get(cp),
        ...op.f64Load(),
        ...op.f64Sub,
        ...tee(diff),
        ...get(diff),
        ...op.f64Mul,
        ...get(s0[w]),
        ...op.f64Add,
        ...set(s0[w]),
        ...bump(p[w], 4),
      ]),
      ...bump(cp, 8),
      ...op.br(0),
      ...op.end,
      ...op.end,
      // out[i + w] = s0 + s1 + (s2 + s3)
      ...k.flatMap((w) => [
        ...get(OUT),
        ...get(i),
        ...i32c(3),
        ...op.i32Shl,
        ...op.i32Add,
        ...get(s0[w]),
        ...get(acc01[w]),
        ...op.f64x2ExtractLane(1),
        ...op.f64Add,
        ...get(acc23[w]),
        ...op.f64x2ExtractLane(0),
        ...get(acc23[w]),
        ...op.f64x2ExtractLane(1),
        ...op.f64Add,
        ...op.f64Add,
        ...op.f64Store(8 * w),
      ]),
      ...bump(i, ways),
    ];
  };
  const code = [
    // end4 = (dim & ~3) * 4 bytes
    ...get(DIM),
    ...i32c(-4),
    ...op.i32And,
    ...i32c(2),
    ...op.i32Shl,
    ...set(end4),
    // while (i + 2 <= n): two rows
    ...op.block,
    ...op.loop,
    ...get(i),
    ...i32c(2),
    ...op.i32Add,
    ...get(N),
    ...op.i32GtU,
    ...op.brIf(1),
    ...rowsLoop(2),
    ...op.br(0),
    ...op.end,
    ...op.end,
    // while (i < n): one row
    ...op.block,
    ...op.loop,
    ...get(i),
    ...get(N),
    ...op.i32GeU,
    ...op.brIf(1),
    ...rowsLoop(1),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return body(locals, code);
}

/** The body of `dot`: four rows side by side, then the rest one by one. */
function dotBody(): number[] {
  const i = 6;
  const c = 7;
  const cp = 8;
  const p = [9, 10, 11, 12];
  const x = 13; // f64
  const s = [14, 15, 16, 17]; // f64
  const locals = [
    [7, I32],
    [5, F64],
  ];
  /** The column loop over `ways` rows (1 or 4), then their stores at out[i + k]. */
  const rowsLoop = (ways: number) => [
    ...p.slice(0, ways).flatMap((pk, k) => rowAddress(i, k, pk)),
    ...s.slice(0, ways).flatMap((sk) => [...op.f64Zero, ...set(sk)]),
    ...get(CENTRE),
    ...set(cp),
    ...i32c(0),
    ...set(c),
    ...op.block,
    ...op.loop,
    ...get(c),
    ...get(DIM),
    ...op.i32GeU,
    ...op.brIf(1),
    ...get(cp),
    ...op.f64Load(),
    ...set(x),
    ...p
      .slice(0, ways)
      .flatMap((pk, k) => [
        ...get(s[k]),
        ...get(pk),
        ...op.f32Load(),
        ...op.f64PromoteF32,
        ...get(x),
        ...op.f64Mul,
        ...op.f64Add,
        ...set(s[k]),
        ...bump(pk, 4),
      ]),
    ...bump(cp, 8),
    ...bump(c, 1),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...s
      .slice(0, ways)
      .flatMap((sk, k) => [
        ...get(OUT),
        ...get(i),
        ...i32c(3),
        ...op.i32Shl,
        ...op.i32Add,
        ...get(sk),
        ...op.f64Store(8 * k),
      ]),
    ...bump(i, ways),
  ];
  const code = [
    // while (i + 4 <= n): four rows
    ...op.block,
    ...op.loop,
    ...get(i),
    ...i32c(4),
    ...op.i32Add,
    ...get(N),
    ...op.i32GtU,
    ...op.brIf(1),
    ...rowsLoop(4),
    ...op.br(0),
    ...op.end,
    ...op.end,
    // while (i < n): one row
    ...op.block,
    ...op.loop,
    ...get(i),
    ...get(N),
    ...op.i32GeU,
    ...op.brIf(1),
    ...rowsLoop(1),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return body(locals, code);
}

/**
 * The body of `qdot`: the integer dot product of int8 rows with an int16 centre, sixteen values
 * per step (`i32x4.dot_i16x8_s`), exact.
 */
function qdotBody(): number[] {
  const i = 6;
  const p = 7;
  const cp = 8;
  const pend = 9;
  const v = 10; // v128: 16 x int8
  const acc = [11, 12]; // v128: int32 sums
  const locals = [
    [4, I32],
    [3, V128],
  ];
  const half = (k: number) => [
    ...get(acc[k]),
    ...get(v),
    ...(k ? op.i16x8ExtendHighI8x16S : op.i16x8ExtendLowI8x16S),
    ...get(cp),
    ...op.v128Load(16 * k),
    ...op.i32x4DotI16x8S,
    ...op.i32x4Add,
    ...set(acc[k]),
  ];
  const lane = (k: number) => [...get(acc[0]), ...op.i32x4ExtractLane(k)];
  const code = [
    ...op.block,
    ...op.loop,
    ...get(i),
    ...get(N),
    ...op.i32GeU,
    ...op.brIf(1),
    // p = q + idx[i] * dimPad (DIM is dimPad here, EMB is q, CENTRE the int16 centre)
    ...get(IDX),
    ...get(i),
    ...i32c(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.i32Load(),
    ...get(DIM),
    ...op.i32Mul,
    ...get(EMB),
    ...op.i32Add,
    ...tee(p),
    ...get(DIM),
    ...op.i32Add,
    ...set(pend),
    ...get(CENTRE),
    ...set(cp),
    ...op.v128Zero,
    ...set(acc[0]),
    ...op.v128Zero,
    ...set(acc[1]),
    ...op.block,
    ...op.loop,
    ...get(p),
    ...get(pend),
    ...op.i32GeU,
    ...op.brIf(1),
    ...get(p),
    ...op.v128Load(),
    ...set(v),
    ...half(0),
    ...half(1),
    ...bump(p, 16),
    ...bump(cp, 32),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...get(acc[0]),
    ...get(acc[1]),
    ...op.i32x4Add,
    ...set(acc[0]),
    ...get(OUT),
    ...get(i),
    ...i32c(3),
    ...op.i32Shl,
    ...op.i32Add,
    ...lane(0),
    ...lane(1),
    ...op.i32Add,
    ...lane(2),
    ...op.i32Add,
    ...lane(3),
    ...op.i32Add,
    ...op.f64ConvertI32S,
    ...op.f64Store(),
    ...bump(i, 1),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return body(locals, code);
}

/** The module's bytes: imports `env.memory` (shared, up to {@link MAX_PAGES}), exports both kernels. */
export function kernelBytes(): Uint8Array {
  const signature = [0x60, 6, I32, I32, I32, I32, I32, I32, 0];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, ...signature]),
    ...section(2, [
      1,
      ...name('env'),
      ...name('memory'),
      0x02,
      0x03,
      ...uleb(1),
      ...uleb(MAX_PAGES),
    ]),
    ...section(3, [3, 0, 0, 0]),
    ...section(7, [
      3,
      ...name('sqdist'),
      0x00,
      0,
      ...name('dot'),
      0x00,
      1,
      ...name('qdot'),
      0x00,
      2,
    ]),
    ...section(10, [3, ...sqdistBody(), ...dotBody(), ...qdotBody()]),
  ];
  return Uint8Array.from(bytes);
}

let compiled: object | undefined;

/** The kernels over `memory` (a shared memory of at most {@link MAX_PAGES} pages). */
export function instantiateKernel(memory: WasmMemory): Kernel {
  compiled ??= new wasm.Module(kernelBytes());
  const instance = new wasm.Instance(compiled, { env: { memory } });
  return instance.exports as unknown as Kernel;
}
