// Tensors that stay with ONNX Runtime from one run to the next (weights being trained,
// optimizer moments, gradient accumulators): a run's output `new.<name>` replaces input
// <name>. On the CPU (and CUDA, whose outputs come back to host memory) the output is
// written into the input's own buffer, so the state never moves (onnxruntime-node also
// returns each output as a fresh copy, which run() drops: ~4% of a v1-small training step,
// and garbage until the next collection); on WebGPU the output stays in GPU memory and is
// the next run's input, so the state lives on the device between steps, and is read back
// only when asked (checkpoints, the data-parallel all-reduce) through a DeviceReader.
import { DeviceReader } from './device-reader.js';
import { ort, Provider, Session } from './session.js';

export class ResidentState {
  private tensors = new Map<string, ort.Tensor>();
  private dims = new Map<string, number[]>();

  private reader: DeviceReader | null;

  /** the provider whose sessions run with this state: WebGPU keeps the `new.*` outputs in its memory (SessionOptions.deviceOutputs) */
  constructor(provider: Exclude<Provider, 'auto'>) {
    this.reader = provider === 'webgpu' ? new DeviceReader(provider) : null;
  }

  get onDevice(): boolean { return this.reader !== null; }

  /** Start tracking `name` with these values (on the CPU the array itself is the state). */
  add(name: string, data: Float32Array, dims: number[]): void {
    this.dims.set(name, dims);
    this.replace(name, new ort.Tensor('float32', data, dims));
  }

  /** Outputs of a graph that are the new values of resident inputs. */
  stateOutputs(outputNames: readonly string[]): string[] {
    return outputNames.filter((o) => o.startsWith('new.') && this.tensors.has(o.slice(4)));
  }

  /** Run with every resident input the graph takes; its `new.*` outputs update the state. */
  async run(session: Session, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const all: Record<string, ort.Tensor> = { ...feeds };
    for (const n of session.ort.inputNames) { const t = this.tensors.get(n); if (t) all[n] = t; }
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const o of session.ort.outputNames) fetches[o] = null;
    if (!this.onDevice) for (const n of this.stateOutputs(session.ort.outputNames)) fetches[n] = this.tensors.get(n.slice(4))!;
    const out = await session.run(all, fetches);
    if (this.onDevice) for (const n of this.stateOutputs(session.ort.outputNames)) this.replace(n.slice(4), out[n]);
    return out;
  }

  /** The current values, on the host (CPU: the live array; a GPU: a download). */
  async read(name: string): Promise<Float32Array> {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no resident tensor "${name}"`);
    return t.location === 'cpu' ? t.data as Float32Array : this.reader!.read(t);
  }

  /** Overwrite the values (resume): in place on the CPU, uploaded by the next run on a GPU. */
  async write(name: string, data: Float32Array): Promise<void> {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no resident tensor "${name}"`);
    if (t.location === 'cpu') { if (t.data !== data) (t.data as Float32Array).set(data); }
    else this.replace(name, new ort.Tensor('float32', Float32Array.from(data), this.dims.get(name)!));
  }

  /** Set host-resident values to zero, in place (accumulators after a step; on a GPU the apply graph resets its own sums). */
  zero(name: string): void {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no resident tensor "${name}"`);
    if (t.location !== 'cpu') throw new Error(`ResidentState.zero: "${name}" lives on the device; the graph that updates it resets it`);
    (t.data as Float32Array).fill(0);
  }

  private replace(name: string, t: ort.Tensor): void {
    const old = this.tensors.get(name);
    this.tensors.set(name, t);
    if (old && old !== t && old.location !== 'cpu') old.dispose();
  }

  async dispose(): Promise<void> {
    for (const t of this.tensors.values()) if (t.location !== 'cpu') t.dispose();
    this.tensors.clear();
    await this.reader?.release();
  }
}
