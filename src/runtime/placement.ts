// Where ONNX Runtime places each node of a graph, read from the runtime itself (its verbose
// "Node placements" log and the graph as it optimized it), and whether the nodes left on the
// CPU are only shape arithmetic. A GPU provider leaves some nodes on the CPU on purpose:
// ORT's optimizers add Shape -> Gather chains when they move Transposes, and small integer
// shape computations run where their inputs are (Shape's output is in host memory). Such a
// node reads a few integers, never tensor data, so it costs no copy from the device. Any
// other node on the CPU would be a kernel the provider lacks, with copies each way.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { Graph } from '../graph/graph.js';
import { toOnnx } from '../graph/onnx.js';
import { SHAPE_CONSTANT_MAX } from './op-support.js';
import { optionsForGraph, Provider, SessionOptions } from './session.js';

const { onnx } = onnxProto;

export interface PlacedNode { op: string; name: string }

export interface Placement {
  /** nodes per execution provider, as ORT's log names them (CPUExecutionProvider, WebGpuExecutionProvider, ...) */
  byProvider: Map<string, PlacedNode[]>;
  /** nodes on the CPU that are shape arithmetic (their inputs are shapes and small integer constants) */
  shapeOnly: PlacedNode[];
  /** nodes on the CPU that compute on tensor data, each with the input that makes it so */
  dataOnCpu: { node: PlacedNode; because: string }[];
  /**
   * copies between host and device that ORT inserted (MemcpyToHost / MemcpyFromHost), of a
   * shape value, of a graph input (its upload, made explicit when the input also has a
   * consumer on the CPU, such as Shape), or of computed data (a real round trip)
   */
  copies: { node: PlacedNode; of: 'shape' | 'input' | 'data' }[];
}

const SHAPE_OPS = new Set(['Shape', 'Size']);

/** Create a session for the graph in a child process with ORT's verbose log, and read where each node went. */
export async function nodePlacement(graph: Graph | Uint8Array, provider: Exclude<Provider, 'auto'>, o: SessionOptions = {}): Promise<Placement> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-placement-'));
  try {
    const model = path.join(dir, 'model.onnx'), optimized = path.join(dir, 'optimized.onnx');
    fs.writeFileSync(model, graph instanceof Uint8Array ? graph : toOnnx(graph));
    const child = spawn(process.execPath, [new URL('./placement-child.js', import.meta.url).pathname, model, provider, JSON.stringify(optionsForGraph(graph, o)), optimized],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const failed = /PLACEMENT-ERROR (.*)/.exec(log);
    if (code !== 0 || failed) throw new Error(`placement check: the ${provider} session could not be created: ${failed?.[1] ?? `exit ${code}`}`);
    const proto = onnx.ModelProto.decode(fs.readFileSync(optimized));
    return analyse(parsePlacementLog(log, proto.graph!.node!.map((n) => ({ op: n.opType!, name: n.name! }))), proto);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The "Node placements" section of ORT's verbose log: provider -> nodes. When one provider
 * has them all, ORT says so without naming them: they are `all` (the optimized graph's nodes).
 */
export function parsePlacementLog(log: string, all: PlacedNode[]): Map<string, PlacedNode[]> {
  const out = new Map<string, PlacedNode[]>();
  let current: PlacedNode[] | null = null;
  for (const line of log.split('\n')) {
    if (!line.includes('VerifyEachNodeIsAssignedToAnEp')) { current = null; continue; }
    const every = /All nodes placed on \[(\w+)\]/.exec(line);
    if (every) { out.set(every[1], all); continue; }
    const head = /Node\(s\) placed on \[(\w+)\]/.exec(line);
    if (head) { current = []; out.set(head[1], current); continue; }
    const node = /\]\s{2,}(\S+) \((.*)\)\s*$/.exec(line);
    if (node && current) current.push({ op: node[1], name: node[2] });
  }
  if (!out.size) throw new Error(`placement check: ONNX Runtime printed no node placements; its log ended: ${log.trim().split('\n').slice(-3).join(' | ').slice(0, 600)}`);
  return out;
}

type ModelProto = ReturnType<typeof onnx.ModelProto.decode>;

function analyse(byProvider: Map<string, PlacedNode[]>, model: ModelProto): Placement {
  const nodes = new Map(model.graph!.node!.map((n) => [n.name!, n]));
  const producer = new Map<string, ReturnType<typeof nodes.get>>();
  for (const n of nodes.values()) for (const o of n!.output ?? []) producer.set(o, n);
  const smallInt = new Set((model.graph!.initializer ?? []).filter(isSmallInt).map((t) => t.name!));
  const onCpu = new Set((byProvider.get('CPUExecutionProvider') ?? []).map((n) => n.name));
  const memo = new Map<string, string | null>();
  /** null when the value is a shape or computed from shapes and small integer constants on the CPU; else why not */
  const dataIn = (value: string): string | null => {
    const p = producer.get(value);
    if (!p) return smallInt.has(value) ? null : `reads ${value} (a graph input or a large/float constant)`;
    if (SHAPE_OPS.has(p.opType!)) return null; // reads only its input's dims
    if (p.opType === 'Constant' && p.attribute?.[0]?.t && isSmallInt(p.attribute[0].t)) return null;
    if (!onCpu.has(p.name!)) return `reads ${value} from ${p.opType} (${p.name}) on the device`;
    if (!memo.has(p.name!)) {
      memo.set(p.name!, 'a cycle'); // never expected in a graph; keeps the recursion finite
      memo.set(p.name!, (p.input ?? []).filter(Boolean).map(dataIn).find((w) => w) ?? null);
    }
    const why = memo.get(p.name!)!;
    return why && `reads ${value} from ${p.opType} (${p.name}), which ${why}`;
  };
  const whyData = (n: PlacedNode): string | null => {
    if (SHAPE_OPS.has(n.op)) return null;
    const proto = nodes.get(n.name);
    if (!proto) return 'is not in the optimized graph';
    return (proto.input ?? []).filter(Boolean).map(dataIn).find((w) => w) ?? null;
  };
  const shapeOnly: PlacedNode[] = [], dataOnCpu: Placement['dataOnCpu'] = [];
  for (const n of byProvider.get('CPUExecutionProvider') ?? []) {
    const why = whyData(n);
    if (why) dataOnCpu.push({ node: n, because: why }); else shapeOnly.push(n);
  }
  const graphInputs = new Set((model.graph!.input ?? []).map((i) => i.name!));
  const copyOf = (n: PlacedNode): 'shape' | 'input' | 'data' => {
    if (!whyData(n)) return 'shape';
    const from = nodes.get(n.name)?.input?.[0];
    return n.op === 'MemcpyFromHost' && from && graphInputs.has(from) ? 'input' : 'data';
  };
  const copies = [...byProvider.values()].flat().filter((n) => n.op.startsWith('Memcpy')).map((node) => ({ node, of: copyOf(node) }));
  return { byProvider, shapeOnly, dataOnCpu, copies };
}

function isSmallInt(t: { dims?: (number | { toNumber(): number })[] | null; dataType?: number | null }): boolean {
  const count = (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  return (t.dataType === onnx.TensorProto.DataType.INT64 || t.dataType === onnx.TensorProto.DataType.INT32) && count <= SHAPE_CONSTANT_MAX;
}

/** One line for a report or an assertion message. */
export function describePlacement(p: Placement): string {
  const counts = [...p.byProvider].map(([ep, ns]) => `${ns.length} on ${ep.replace('ExecutionProvider', '')}`).join(', ');
  const shape = p.shapeOnly.length ? `; shape arithmetic on the CPU: ${p.shapeOnly.map((n) => `${n.op} (${n.name})`).join(', ')}` : '';
  const data = p.dataOnCpu.length ? `; COMPUTE ON THE CPU: ${p.dataOnCpu.map((d) => `${d.node.op} (${d.node.name}) ${d.because}`).join('; ')}` : '';
  const copies = p.copies.length ? `; copies: ${p.copies.map((c) => `${c.node.op} (${c.node.name}) of ${c.of === 'data' ? 'COMPUTED DATA' : c.of === 'input' ? 'a graph input' : 'a shape value'}`).join(', ')}` : '';
  return `${counts}${shape}${data}${copies}`;
}
