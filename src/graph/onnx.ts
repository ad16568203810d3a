// Serialize a Graph to an ONNX ModelProto (opset 23) with onnx-proto.
import onnxProto from 'onnx-proto';
import { Attr, DType, Graph, onnxTypeCode, Tensor, TensorValue } from './graph.js';

const { onnx } = onnxProto;
export const OPSET = 23;
const IR_VERSION = 10;

function rawBytes(dtype: DType, data: ArrayLike<number> | BigInt64Array): Uint8Array {
  let arr: ArrayBufferView;
  switch (dtype) {
    case 'float32': arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>); break;
    case 'float64': arr = data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>); break;
    case 'int64': arr = data as BigInt64Array; break;
    case 'int32': arr = Int32Array.from(data as ArrayLike<number>); break;
    case 'bool': case 'uint8': arr = Uint8Array.from(data as ArrayLike<number>); break;
    default: throw new Error(`cannot serialize constant of type ${dtype}`);
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

function tensorProto(name: string, v: TensorValue) {
  return onnx.TensorProto.create({ name, dataType: onnxTypeCode(v.dtype), dims: v.dims, rawData: rawBytes(v.dtype, v.data) });
}

function attribute(name: string, a: Attr) {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.i });
  if ('f' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.f });
  if ('s' in a) return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.s) });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: a.ints });
  if ('floats' in a) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: a.floats });
  return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorProto('', a.t) });
}

function valueInfo(t: Tensor) {
  const dim = t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d.startsWith('?') ? {} : { dimParam: d }));
  return onnx.ValueInfoProto.create({
    name: t.name,
    type: { tensorType: { elemType: onnxTypeCode(t.dtype), shape: { dim } } },
  });
}

export function toOnnx(g: Graph, name = 'minimind'): Uint8Array {
  const graph = onnx.GraphProto.create({
    name,
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
    initializer: g.initializers.map((i) => tensorProto(i.name, i)),
    node: g.nodes.map((n, k) => onnx.NodeProto.create({
      name: `n${k}`,
      opType: n.op,
      domain: n.domain ?? '',
      input: n.inputs.map((t) => (t ? t.name : '')),
      output: n.outputs.map((t) => t.name),
      attribute: Object.entries(n.attrs).map(([k2, a]) => attribute(k2, a)),
    })),
  });
  const opsetImport = [{ domain: '', version: OPSET }];
  if (g.nodes.some((n) => n.domain === 'com.microsoft')) opsetImport.push({ domain: 'com.microsoft', version: 1 });
  const model = onnx.ModelProto.create({ irVersion: IR_VERSION, producerName: 'minimind', opsetImport, graph });
  return onnx.ModelProto.encode(model).finish();
}
