import { onnx } from 'onnx-proto';

/** A fully connected layer: `activation(x · weights + bias)`. */
export interface DenseLayer {
  /** Row-major `[inDim, outDim]`. */
  weights: Float32Array;
  /** `[outDim]`. */
  bias: Float32Array;
  inDim: number;
  outDim: number;
  /** Default `'none'`. */
  activation?: 'relu' | 'tanh' | 'none';
}

/**
 * A feed-forward classifier to write as ONNX.
 *
 * The graph takes one float32 input of shape `[N, inputDim]` (`N` symbolic), optionally
 * standardises it, applies the layers in order and emits any of: the last layer's output
 * (logits), their softmax (probabilities), and the last layer's input (an embedding).
 * All outputs are float32 `[N, width]`.
 *
 * Weight values are not checked, so a deliberately broken model (a NaN weight) can be built.
 *
 * @example Softmax regression over 4 features and 3 classes
 * ```ts
 * buildFeedForwardOnnx({
 *   inputDim: 4,
 *   layers: [{ inDim: 4, outDim: 3, weights: new Float32Array(12), bias: new Float32Array(3) }],
 *   outputs: { probabilities: 'probabilities' },
 * });
 * ```
 */
export interface FeedForwardSpec {
  /** Name of the graph input. Default `'features'`. */
  inputName?: string;
  inputDim: number;
  /** Standardisation applied first, `(x - mean) / scale`, baked into the graph. */
  standardize?: { mean: Float32Array; scale: Float32Array };
  /** Applied in order; the last one gives the logits. At least one. */
  layers: DenseLayer[];
  /**
   * Names of the graph outputs to emit; at least one. `probabilities` is the softmax of the
   * logits over axis 1, `embedding` is the input to the last layer.
   */
  outputs: { probabilities?: string; logits?: string; embedding?: string };
  /** ONNX opset of the default domain, 13 to 21. Default 17. */
  opset?: number;
}

const FEED_FORWARD_DEFAULTS = { inputName: 'features', opset: 17 };

const MIN_OPSET = 13;
const MAX_OPSET = 21;

const ACTIVATION_OPS = { relu: 'Relu', tanh: 'Tanh', none: null } as const;

const FLOAT = onnx.TensorProto.DataType.FLOAT;

/**
 * Writes a feed-forward network as an ONNX model.
 *
 * @returns the serialised `ModelProto`
 * @throws Error naming the offending field, e.g. `spec.layers[1].inDim must equal ...`
 */
export function buildFeedForwardOnnx(spec: FeedForwardSpec): Uint8Array {
  const options = { ...FEED_FORWARD_DEFAULTS, ...withoutUndefined(spec) };
  validateSpec(options);
  const { inputName, inputDim, standardize, layers, outputs, opset } = options;

  const tensorNames = new Set<string>([inputName, ...Object.values(outputs)]);
  // Internal tensor names must not collide with names the caller chose for inputs and outputs.
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; tensorNames.has(name); i++) name = `${base}_${i}`;
    tensorNames.add(name);
    return name;
  };

  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const addNode = (
    opType: string,
    name: string,
    input: string[],
    output: string,
    attribute?: onnx.IAttributeProto[],
  ): string => {
    nodes.push({ opType, name, input, output: [output], attribute });
    return output;
  };
  const addInitializer = (base: string, values: Float32Array, dims: number[]): string => {
    const name = fresh(base);
    initializers.push({ name, dataType: FLOAT, dims, rawData: float32LittleEndian(values) });
    return name;
  };

  let x = inputName;
  if (standardize) {
    const mean = addInitializer('standardize/mean', standardize.mean, [inputDim]);
    const scale = addInitializer('standardize/scale', standardize.scale, [inputDim]);
    const centred = addNode('Sub', 'standardize/Sub', [x, mean], fresh('standardize/centred'));
    x = addNode('Div', 'standardize/Div', [centred, scale], fresh('standardize/output'));
  }

  const last = layers.length - 1;
  layers.slice(0, last).forEach((layer, i) => {
    x = addDense(layer, i, x, fresh(`dense${i}/output`));
  });
  if (outputs.embedding !== undefined) {
    addNode('Identity', 'embedding/Identity', [x], outputs.embedding);
  }
  const logits = addDense(layers[last], last, x, outputs.logits ?? fresh('logits'));
  if (outputs.probabilities !== undefined) {
    addNode('Softmax', 'probabilities/Softmax', [logits], outputs.probabilities, [
      { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
    ]);
  }

  function addDense(layer: DenseLayer, i: number, input: string, output: string): string {
    const weights = addInitializer(`dense${i}/weights`, layer.weights, [layer.inDim, layer.outDim]);
    const bias = addInitializer(`dense${i}/bias`, layer.bias, [layer.outDim]);
    const op = ACTIVATION_OPS[layer.activation ?? 'none'];
    if (op === null) return addNode('Gemm', `dense${i}/Gemm`, [input, weights, bias], output);
    const linear = addNode(
      'Gemm',
      `dense${i}/Gemm`,
      [input, weights, bias],
      fresh(`dense${i}/linear`),
    );
    return addNode(op, `dense${i}/${op}`, [linear], output);
  }

  const classCount = layers[last].outDim;
  const graphOutputs: onnx.IValueInfoProto[] = [];
  if (outputs.probabilities !== undefined) {
    graphOutputs.push(matrixValueInfo(outputs.probabilities, classCount));
  }
  if (outputs.logits !== undefined) graphOutputs.push(matrixValueInfo(outputs.logits, classCount));
  if (outputs.embedding !== undefined) {
    graphOutputs.push(matrixValueInfo(outputs.embedding, layers[last].inDim));
  }

  const model: onnx.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'quarry',
    graph: {
      name: 'feed_forward',
      node: nodes,
      initializer: initializers,
      input: [matrixValueInfo(inputName, inputDim)],
      output: graphOutputs,
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

type ResolvedSpec = FeedForwardSpec & typeof FEED_FORWARD_DEFAULTS;

function validateSpec(spec: ResolvedSpec): void {
  const fail = (message: string): never => {
    throw new Error(`Invalid feed-forward spec: ${message}`);
  };
  const requirePositiveInteger = (field: string, value: unknown): void => {
    if (!Number.isInteger(value) || (value as number) <= 0) {
      fail(`spec.${field} must be a positive integer, got ${String(value)}`);
    }
  };
  const requireLength = (
    field: string,
    array: ArrayLike<number> | undefined,
    expected: number,
    what: string,
  ): void => {
    const length = array?.length;
    if (length !== expected) {
      fail(`spec.${field} has ${String(length)} values, expected ${what} = ${expected}`);
    }
  };

  if (typeof spec.inputName !== 'string' || spec.inputName === '') {
    fail(`spec.inputName must be a non-empty string, got ${JSON.stringify(spec.inputName)}`);
  }
  requirePositiveInteger('inputDim', spec.inputDim);
  if (!Number.isInteger(spec.opset) || spec.opset < MIN_OPSET || spec.opset > MAX_OPSET) {
    fail(`spec.opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${spec.opset}`);
  }
  if (spec.standardize) {
    requireLength('standardize.mean', spec.standardize.mean, spec.inputDim, 'inputDim');
    requireLength('standardize.scale', spec.standardize.scale, spec.inputDim, 'inputDim');
  }

  if (!Array.isArray(spec.layers) || spec.layers.length === 0) {
    fail('spec.layers must hold at least one layer');
  }
  spec.layers.forEach((layer, i) => {
    const at = `layers[${i}]`;
    requirePositiveInteger(`${at}.inDim`, layer.inDim);
    requirePositiveInteger(`${at}.outDim`, layer.outDim);
    const expectedInDim = i === 0 ? spec.inputDim : spec.layers[i - 1].outDim;
    const source = i === 0 ? 'spec.inputDim' : `spec.layers[${i - 1}].outDim`;
    if (layer.inDim !== expectedInDim) {
      fail(`spec.${at}.inDim must equal ${source} (${expectedInDim}), got ${layer.inDim}`);
    }
    requireLength(`${at}.weights`, layer.weights, layer.inDim * layer.outDim, 'inDim * outDim');
    requireLength(`${at}.bias`, layer.bias, layer.outDim, 'outDim');
    if (layer.activation !== undefined && !Object.hasOwn(ACTIVATION_OPS, layer.activation)) {
      fail(
        `spec.${at}.activation must be 'relu', 'tanh' or 'none', got ${JSON.stringify(layer.activation)}`,
      );
    }
  });

  const outputs = Object.entries(spec.outputs ?? {}).filter(([, name]) => name !== undefined);
  if (outputs.length === 0) {
    fail('spec.outputs must name at least one of probabilities, logits, embedding');
  }
  const seen = new Map<string, string>([[spec.inputName, 'spec.inputName']]);
  for (const [key, name] of outputs) {
    const field = `spec.outputs.${key}`;
    if (!['probabilities', 'logits', 'embedding'].includes(key)) {
      fail(`${field} is not a known output`);
    }
    if (typeof name !== 'string' || name === '') {
      fail(`${field} must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    const other = seen.get(name);
    if (other !== undefined) {
      fail(`${field} '${name}' is already used by ${other}; names must be unique`);
    }
    seen.set(name, field);
  }
}

function matrixValueInfo(name: string, width: number): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] } },
    },
  };
}

/** The lowest IR version that allows the opset (onnx/docs/Versioning.md). */
function irVersionFor(opset: number): number {
  if (opset <= 15) return 7;
  if (opset <= 17) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/** ONNX `raw_data` is little-endian whatever the host. */
function float32LittleEndian(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
