/**
 * A minimal WebAssembly assembler for the kernels of `simd-kernel.ts`: LEB128, the opcodes they
 * use (from the core and SIMD specifications), function bodies and sections.
 */
export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;
export const VOID = 0x40;

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const tee = (i: number) => [0x22, ...uleb(i)];
export const i32c = (v: number) => [0x41, ...sleb(v)];
export const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];
export const simd = (op: number, ...rest: number[]) => [0xfd, ...uleb(op), ...rest];

export const op = {
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32And: [0x71],
  i32GeU: [0x4f],
  i32GtU: [0x4b],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64PromoteF32: [0xbb],
  i32Load: (offset = 0) => [0x28, ...memarg(2, offset)],
  f32Load: (offset = 0) => [0x2a, ...memarg(2, offset)],
  f64Load: (offset = 0) => [0x2b, ...memarg(3, offset)],
  f64Store: (offset = 0) => [0x39, ...memarg(3, offset)],
  f64Zero: [0x44, 0, 0, 0, 0, 0, 0, 0, 0],
  block: [0x02, VOID],
  loop: [0x03, VOID],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  v128Zero: simd(12, ...new Array<number>(16).fill(0)),
  v128Load: (offset = 0) => simd(0, ...memarg(3, offset)),
  v128Load64Zero: (offset = 0) => simd(93, ...memarg(2, offset)),
  f64x2PromoteLowF32x4: simd(95),
  f64x2ExtractLane: (lane: number) => simd(33, lane),
  f64x2Add: simd(240),
  f64x2Sub: simd(241),
  f64x2Mul: simd(242),
  f64ConvertI32S: [0xb7],
  i16x8ExtendLowI8x16S: simd(135),
  i16x8ExtendHighI8x16S: simd(136),
  i32x4ExtractLane: (lane: number) => simd(27, lane),
  i32x4Add: simd(174),
  i32x4DotI16x8S: simd(186),
};

/** `local += step` for an i32 local. */
export const bump = (local: number, step: number) => [
  ...get(local),
  ...i32c(step),
  ...op.i32Add,
  ...set(local),
];

export function body(locals: number[][], code: number[]): number[] {
  const decl = [
    ...uleb(locals.length),
    ...locals.flatMap(([count, type]) => [...uleb(count), type]),
  ];
  const all = [...decl, ...code, ...op.end];
  return [...uleb(all.length), ...all];
}

export function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

export const name = (text: string) => [
  ...uleb(text.length),
  ...Array.from(text, (ch) => ch.charCodeAt(0)),
];
