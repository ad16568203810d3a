// Reads tensors that a GPU session kept in device memory (`gpu-buffer` outputs) back to the
// host. onnxruntime-node (1.30) gives such tensors no working download: its `getData()`
// throws a C string from native code, which aborts the whole process. The way back that it
// does support is a session input: a gpu-buffer tensor fed to a session on the same device,
// whose output ORT copies to the CPU. So each read is one run of an Identity graph.
import { Graph } from '../graph/graph.js';
import { createSession, ort, Provider, Session } from './session.js';

export class DeviceReader {
  /** one Identity session per tensor rank (the dims are symbolic, so any shape of that rank) */
  private sessions = new Map<number, Promise<Session>>();

  constructor(private readonly provider: Exclude<Provider, 'auto' | 'cpu'>) {}

  async read(t: ort.Tensor): Promise<Float32Array> {
    if (t.location === 'cpu') return t.data as Float32Array;
    if (t.type !== 'float32') throw new Error(`DeviceReader: only float32 tensors are read back (got ${t.type})`);
    const s = await this.session(t.dims.length);
    const out = await s.run({ x: t });
    return out.y.data as Float32Array;
  }

  private session(rank: number): Promise<Session> {
    let s = this.sessions.get(rank);
    if (!s) {
      const g = new Graph();
      g.output(g.identity(g.input('x', 'float32', Array.from({ length: rank }, (_, i) => `d${i}`))), 'y');
      s = createSession(g, { provider: this.provider, quiet: true });
      this.sessions.set(rank, s);
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
