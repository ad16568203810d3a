// MiniMind as a graph: dense or mixture-of-experts decoder layers (RMSNorm, RoPE,
// grouped-query attention, SwiGLU), tied embeddings. One builder serves training
// (loss and gradients) and decoding (KV cache, logits of the last position).
import { Dim, mulDims } from '../graph/dims.js';
import { appendAdamW, updated } from '../graph/adamw.js';
import { grad } from '../graph/autodiff.js';
import { DType, FloatType, Graph, HalfType, Tensor } from '../graph/graph.js';
import { attention, crossEntropy, rmsNormKernel, ropeKernel, skipRmsNormKernel, windowAttention, windowWidths, dpoLoss, linear, lmHeadCrossEntropy, rmsNorm, rope, sequenceLogProbs, swigluAct } from '../graph/nn.js';
import { headDim, MiniMindConfig } from './config.js';
import { isPolicyObjective, PolicyObjective, policyHead } from './objectives.js';
import { paramSpecs } from './params.js';

type ParamFn = (name: string) => Tensor;
/** Hook that may wrap a linear layer (LoRA, quantization): gets the weight name and the graph's weights. */
export type LinearHook = (g: Graph, x: Tensor, weightName: string, plain: () => Tensor, weight: (name: string) => Tensor) => Tensor;
/**
 * Several linear layers of one input as one product (a decode graph's q/k/v, gate/up: one
 * kernel, one weight stream, where three cost three kernels' overhead per token): their
 * outputs, or null where the weights do not allow it (then each layer runs on its own).
 */
export type FusedLinear = (g: Graph, x: Tensor, weightNames: string[]) => Tensor[] | null;

interface Ctx {
  g: Graph; c: MiniMindConfig; p: ParamFn; cos: Tensor; sin: Tensor; bias: Tensor | null; training: boolean; lin: LinearHook; hooked: boolean; chunks: number;
  /** replaces attention() (the choice graph's fused kernel): q [B,T,H,hd], k/v [B,S,KV,hd] -> [B,T,H*hd] */
  attend?: (q: Tensor, k: Tensor, v: Tensor) => Tensor;
  /** `attend` applies RoPE itself */
  attendRopes?: boolean;
  /** RMSNorm as one kernel (graphs without a backward pass, run by ONNX Runtime only) */
  normKernel?: boolean;
  /** linear layers of one input as one product (decode graphs with constant weights) */
  fused?: FusedLinear;
  /** what the graph is built for (MoE dispatch: see GraphTarget) */
  target?: GraphTarget;
}

/**
 * What a graph is built for. cpu: least arithmetic. Each MoE expert runs only on its tokens
 * (NonZero, GatherND, ScatterND), and the embedding's gradient is a scatter-add. gpu: each
 * expert runs on every token, its output weighted by the token's gate weight, zero where the
 * expert was not chosen: no NonZero (which WebGPU lacks, and CUDA syncs on) and no
 * data-dependent shapes, at n_routed_experts / num_experts_per_tok times the routed experts'
 * arithmetic; both dispatches give the same sums (an unchosen expert adds an exact zero, the
 * chosen ones are added in the same order). And the embedding's gradient is a product,
 * deterministic (Graph.gatherGradAsProduct).
 */
export type GraphTarget = 'cpu' | 'gpu';

export const targetFor = (provider: string): GraphTarget => (provider === 'cpu' ? 'cpu' : 'gpu');

const norm = (ctx: Ctx, x: Tensor, name: string) => (ctx.normKernel ? rmsNormKernel : rmsNorm)(ctx.g, x, ctx.p(name), ctx.c.rms_norm_eps);

const proj = (ctx: Ctx, x: Tensor, name: string) => ctx.lin(ctx.g, x, name, () => linear(ctx.g, x, ctx.p(name)), ctx.p);

/** The linear layers `names` of one input: one product where ctx.fused allows, else each its own. */
const projections = (ctx: Ctx, x: Tensor, names: string[]) => ctx.fused?.(ctx.g, x, names) ?? names.map((n) => proj(ctx, x, n));

function swiglu(ctx: Ctx, x: Tensor, prefix: string): Tensor {
  const { g } = ctx;
  const [gate, up] = projections(ctx, x, [`${prefix}.gate_proj.weight`, `${prefix}.up_proj.weight`]);
  // without hooks (LoRA, quantization) the down projection joins the activation's group
  if (!ctx.hooked) return swigluAct(g, gate, up, ctx.p(`${prefix}.down_proj.weight`));
  return proj(ctx, swigluAct(g, gate, up), `${prefix}.down_proj.weight`);
}

/**
 * Mixture of experts: softmax gate, top-k, each routed expert runs only on the tokens
 * sent to it (NonZero + Gather, results scattered back), shared experts see every token.
 * The two MiniMind generations differ (see Family): minimind2 normalises the top-k weights
 * only when k > 1 and balances load per sequence; minimind3 normalises whenever
 * norm_topk_prob is set (top-1 gets weight 1) and balances load over the whole batch.
 * Returns the output and (training) the auxiliary load-balancing loss.
 */
function moe(ctx: Ctx, x: Tensor, prefix: string): { y: Tensor; aux: Tensor | null } {
  const { g, c } = ctx;
  const d = c.hidden_size, E = c.n_routed_experts, k = c.num_experts_per_tok;
  const x2 = g.reshape(x, [-1, d]);                                   // N, d
  const scores = g.softmax(linear(g, x2, ctx.p(`${prefix}.gate.weight`)), -1); // N, E
  let [tw, ti] = g.topk(scores, k, -1);                               // N, k
  if (c.norm_topk_prob && (k > 1 || c.family === 'minimind3')) tw = g.div(tw, g.add(g.reduceSum(tw, [1], true), 1e-20));
  const dense = ctx.target === 'gpu';
  let out = dense ? null : g.zeros(g.shapeOf(x2), x2.shape);
  // the chosen experts' numbers as floats (exact up to 2^24): WebGPU compares no int64
  const tf = g.gather(g.constant(Array.from({ length: E }, (_, e) => e), x.dtype, [E]), ti); // N, k
  const selections: Tensor[] = [];
  for (let e = 0; e < E; e++) {
    const sel = g.cast(g.equal(tf, g.scalar(e, x.dtype)), x.dtype);  // N, k
    selections.push(sel);
    const we = g.reduceSum(g.mul(tw, sel), [1], false);                // N
    if (dense) {
      const ye = g.mul(swiglu(ctx, x2, `${prefix}.experts.${e}`), g.unsqueeze(we, [1]));
      out = out ? g.add(out, ye) : ye;
      continue;
    }
    const idx = g.transpose(g.nonzero(g.greater(g.reduceSum(sel, [1], false), g.scalar(0, x.dtype))), [1, 0]); // M, 1
    const ye = swiglu(ctx, g.gatherND(x2, idx), `${prefix}.experts.${e}`);
    out = g.scatterND(out!, idx, g.mul(ye, g.unsqueeze(g.gatherND(we, idx), [1])), 'add');
  }
  let y = g.reshapeTo(out!, g.shapeOf(x), x.shape);
  for (let s = 0; s < c.n_shared_experts; s++) y = g.add(y, swiglu(ctx, x, `${prefix}.shared_experts.${s}`));
  if (!ctx.training || c.aux_loss_alpha <= 0) return { y, aux: null };
  if (c.family === 'minimind3') {
    // aux = coef * E * sum_e (selections of e / tokens) * mean_t score_e, over the whole batch
    const load = g.concat(selections.map((s) => g.reduceSum(g.reduceMean(s, [0], false), [0], true)), 0); // E
    const aux = g.mul(g.reduceSum(g.mul(load, g.reduceMean(scores, [0], false)), [0], false), E * c.aux_loss_alpha);
    return { y, aux };
  }
  // aux = alpha * mean_b sum_e (E * share of batch b's selections going to e) * mean_t score_e
  const bShape = g.slice(g.shapeOf(x), 0, 0, 1);
  const perSeq = (t: Tensor, last: number) => g.reshapeTo(t, g.concat([bShape, g.ints([-1, last])], 0), [x.shape[0], '?seq', last]);
  const load = g.concat(selections.map((s) => g.reduceMean(perSeq(s, k), [1, 2], false)), 0); // E*B flattened by expert
  const loadBE = g.transpose(g.reshapeTo(load, g.concat([g.ints([E]), bShape], 0), [E, x.shape[0]]), [1, 0]); // B, E
  const meanScore = g.reduceMean(perSeq(scores, E), [1], false);    // B, E
  const aux = g.mul(g.reduceMean(g.reduceSum(g.mul(g.mul(loadBE, E), meanScore), [1], false), [0], false), c.aux_loss_alpha);
  return { y, aux };
}

interface LayerIO { x: Tensor; pastK?: Tensor; pastV?: Tensor }

function decoderLayer(ctx: Ctx, l: number, io: LayerIO): { x: Tensor; k: Tensor; v: Tensor; aux: Tensor | null } {
  const { g, c } = ctx;
  const pre = `model.layers.${l}`;
  return g.scope(`layer${l}`, () => {
    const hd = headDim(c), H = c.num_attention_heads, KV = c.num_key_value_heads;
    const h = norm(ctx, io.x, `${pre}.input_layernorm.weight`);
    let q = g.reshape(proj(ctx, h, `${pre}.self_attn.q_proj.weight`), [0, 0, H, hd]);
    let k = g.reshape(proj(ctx, h, `${pre}.self_attn.k_proj.weight`), [0, 0, KV, hd]);
    const v0 = g.reshape(proj(ctx, h, `${pre}.self_attn.v_proj.weight`), [0, 0, KV, hd]);
    if (c.qk_norm) {
      q = norm(ctx, q, `${pre}.self_attn.q_norm.weight`);
      k = norm(ctx, k, `${pre}.self_attn.k_norm.weight`);
    }
    if (!ctx.attendRopes) {
      q = rope(g, q, ctx.cos, ctx.sin);
      k = rope(g, k, ctx.cos, ctx.sin);
    }
    const kAll = io.pastK ? g.concat([io.pastK, k], 1) : k;
    const vAll = io.pastV ? g.concat([io.pastV, v0], 1) : v0;
    const a = ctx.attend ? ctx.attend(q, kAll, vAll) : attention(g, q, kAll, vAll, ctx.bias, ctx.chunks);
    const x = g.add(io.x, proj(ctx, a, `${pre}.self_attn.o_proj.weight`));
    const h2 = norm(ctx, x, `${pre}.post_attention_layernorm.weight`);
    if (!c.use_moe) return { x: g.add(x, swiglu(ctx, h2, `${pre}.mlp`)), k: kAll, v: vAll, aux: null };
    const m = moe(ctx, h2, `${pre}.mlp`);
    return { x: g.add(x, m.y), k: kAll, v: vAll, aux: m.aux };
  });
}

/**
 * A layer of the window decode graph, built for few rows per run (a decode step's one
 * token per sequence), where each op's fixed cost outweighs its arithmetic: activations stay
 * [B, T, width] (RoPE and attention take the projections' layout), q/k/v and gate/up are one
 * product each where ctx.fused allows, and each residual add joins the next norm in one
 * kernel. `pending` is the previous sublayer's output not yet added to the residual x.
 */
function windowDecoderLayer(ctx: Ctx, l: number, x: Tensor, pending: Tensor | null, positions: Tensor,
  attend: (q: Tensor, k: Tensor, v: Tensor) => Tensor): { x: Tensor; pending: Tensor; k: Tensor; v: Tensor } {
  const { g, c } = ctx;
  const pre = `model.layers.${l}`, eps = c.rms_norm_eps;
  return g.scope(`layer${l}`, () => {
    const hd = headDim(c), H = c.num_attention_heads, KV = c.num_key_value_heads;
    let h: Tensor;
    if (pending) [h, x] = skipRmsNormKernel(g, x, pending, ctx.p(`${pre}.input_layernorm.weight`), eps);
    else h = rmsNormKernel(g, x, ctx.p(`${pre}.input_layernorm.weight`), eps);
    let [q, k, v] = projections(ctx, h, ['q', 'k', 'v'].map((n) => `${pre}.self_attn.${n}_proj.weight`));
    if (c.qk_norm) { // per head
      const perHead = (t: Tensor, heads: number, w: string) => g.reshape(rmsNormKernel(g, g.reshape(t, [0, 0, heads, hd]), ctx.p(w), eps), [0, 0, -1]);
      q = perHead(q, H, `${pre}.self_attn.q_norm.weight`);
      k = perHead(k, KV, `${pre}.self_attn.k_norm.weight`);
    }
    q = ropeKernel(g, q, H, positions, ctx.cos, ctx.sin);
    k = ropeKernel(g, k, KV, positions, ctx.cos, ctx.sin);
    const [h2, x2] = skipRmsNormKernel(g, x, proj(ctx, attend(q, k, v), `${pre}.self_attn.o_proj.weight`), ctx.p(`${pre}.post_attention_layernorm.weight`), eps);
    return { x: x2, pending: c.use_moe ? moe(ctx, h2, `${pre}.mlp`).y : swiglu(ctx, h2, `${pre}.mlp`), k, v };
  });
}

export interface BuildOptions {
  dtype?: FloatType;
  /** a parameter trains (gets a gradient) when this returns true; default: all */
  trainable?: (name: string) => boolean;
  /** also output logits [B, T, V] */
  logits?: boolean;
  linearHook?: LinearHook;
  /** extra graph inputs the hook needs (LoRA weights), with their shapes */
  extraParams?: { name: string; shape: number[] }[];
  /** fix the sequence length (training batches always have one): enables block-causal attention */
  seqLen?: number;
  /** query blocks for causal attention with a fixed seqLen (default: blocks of about 128) */
  attnChunks?: number;
  /**
   * lm: next-token cross-entropy (default). seqlogp: output `seq_logps` [B], the summed
   * log-probs of each row's labels (no loss). dpo: rows are [chosen; rejected], input
   * `ref_logps` [B] holds the reference model's seq_logps, loss is sigmoid DPO. The
   * distillation and policy-gradient objectives: see PolicyObjective (objectives.ts).
   */
  objective?: { kind: 'lm' } | { kind: 'seqlogp' } | { kind: 'dpo'; beta: number } | PolicyObjective;
  /**
   * What the backward pass ends in. gradients (default): outputs `grad.<name>` and
   * `grad_sumsq`. accumulate: adds the gradients to inputs `grad_acc.<name>` (outputs
   * `new.grad_acc.<name>`). adamw: a clipped AdamW step of the trainable weights (see
   * appendAdamW): one graph per optimizer step.
   */
  update?: 'gradients' | 'accumulate' | 'adamw';
  /** mixed precision: MatMul/Gemm compute in this type (weights and the rest stay float32) */
  matmulType?: HalfType;
  /**
   * float16's dynamic loss scaling: the backward pass starts from loss x input `loss_scale`
   * (so small gradients survive float16), the update divides it out again (grad_scale) and
   * skips the step when the gradient norm is not finite (see appendAdamW).
   */
  lossScaling?: boolean;
  /** what the graph is built for (default cpu; see GraphTarget) */
  target?: GraphTarget;
}

/** Largest block count with blocks of at least 128 positions that divides T. */
export function defaultChunks(T: number): number {
  for (let c = Math.floor(T / 128); c > 1; c--) if (T % c === 0) return c;
  return 1;
}

function commonInputs(g: Graph, c: MiniMindConfig, ft: FloatType, T: Dim, S: Dim, extra: { name: string; shape: number[] }[], B: Dim = 'B',
  o: { ropePerRow?: boolean; ropeTable?: boolean; withBias?: boolean; biasShape?: Dim[]; idType?: DType } = {}) {
  // weights become graph inputs on first use, so weights a hook replaces (quantized
  // constants) are not inputs too
  const shapes = new Map([...paramSpecs(c), ...extra].map((s) => [s.name, s.shape]));
  const params = new Map<string, Tensor>();
  const p: ParamFn = (n) => {
    let t = params.get(n);
    if (!t) {
      const shape = shapes.get(n);
      if (!shape) throw new Error(`unknown parameter "${n}"`);
      params.set(n, (t = g.input(n, ft, shape)));
    }
    return t;
  };
  const ids = g.input('input_ids', o.idType ?? 'int64', [B, T]);
  const hd = headDim(c), rep = c.num_attention_heads / c.num_key_value_heads;
  // per row: each row has its own positions (left padding); table: [positions, hd/2] for ropeKernel
  const ropeShape: Dim[] = o.ropeTable ? ['P', hd / 2] : o.ropePerRow ? [B, T, hd] : [T, hd];
  const cos = g.input('rope_cos', ft, ropeShape);
  const sin = g.input('rope_sin', ft, ropeShape);
  const bias = o.withBias === false ? null : g.input('attn_bias', ft, o.biasShape ?? ['?bias_batch', 1, mulDims(rep, T), S]);
  return { params, shapes, p, ids, cos, sin, bias };
}

export interface TrainGraph { graph: Graph; params: Map<string, Tensor>; trainable: string[] }

/**
 * Element type of the training graph's `input_ids` and `labels`. int32, not int64: WebGPU
 * has no int64 Equal, Where, Unsqueeze or Cast, which the label mask and the embedding
 * gradient would need. (createSession converts int64 feeds of these inputs.)
 */
export const trainIndexType = 'int32' satisfies DType;

/** Training graph: outputs `loss` (LM + auxiliary), `lm_loss`, `aux_loss` (MoE) and `grad.<name>` per trainable parameter. */
export function buildTrainGraph(c: MiniMindConfig, o: BuildOptions = {}): TrainGraph {
  const ft = o.dtype ?? 'float32';
  const g = new Graph(ft);
  g.matmulType = o.matmulType ?? null;
  g.gatherGradAsProduct = o.target === 'gpu';
  const T = o.seqLen ?? 'T';
  const objective = o.objective ?? { kind: 'lm' };
  const B = objective.kind === 'dpo' ? '2*P' : 'B'; // DPO rows: P chosen, then P rejected
  const { params, shapes, p, ids, cos, sin, bias } = commonInputs(g, c, ft, T, T, o.extraParams ?? [], B, { idType: trainIndexType });
  for (const n of shapes.keys()) p(n); // every weight is an input of the training graph
  const labels = g.input('labels', trainIndexType, [B, T]);
  const chunks = o.seqLen ? (o.attnChunks ?? defaultChunks(o.seqLen)) : 1;
  const ctx: Ctx = { g, c, p, cos, sin, bias, training: true, lin: o.linearHook ?? ((_g, _x, _n, plain) => plain()), hooked: !!o.linearHook, chunks, target: o.target };
  const E = p('model.embed_tokens.weight');
  let x = g.gather(E, ids);
  const auxes: Tensor[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const r = decoderLayer(ctx, l, { x });
    x = r.x;
    if (r.aux) auxes.push(r.aux);
  }
  x = rmsNorm(g, x, p('model.norm.weight'), c.rms_norm_eps);
  const aux = auxes.length ? auxes.reduce((a, b) => g.add(a, b)) : null;
  if (isPolicyObjective(objective)) {
    const { loss } = policyHead(g, c, objective, x, E, labels, aux, p);
    return loss ? withGrads(g, params, loss, o) : { graph: g, params, trainable: [] };
  }
  if (objective.kind !== 'lm') {
    const logps = sequenceLogProbs(g, x, E, labels);
    if (objective.kind === 'seqlogp') { g.output(logps, 'seq_logps'); return { graph: g, params, trainable: [] }; }
    const d = dpoLoss(g, logps, g.input('ref_logps', g.floatType, [B]), objective.beta);
    const loss = aux ? g.add(d.loss, aux) : d.loss;
    g.output(loss, 'loss');
    if (aux) g.output(aux, 'aux_loss');
    const mean = (t: Tensor) => g.reduceMean(t, [0], false);
    g.output(mean(d.chosen), 'chosen_reward');
    g.output(mean(d.rejected), 'rejected_reward');
    g.output(mean(d.z), 'reward_margin');
    g.output(mean(g.cast(g.greater(d.z, g.scalar(0, d.z.dtype)), d.z.dtype)), 'reward_accuracy');
    return withGrads(g, params, loss, o);
  }
  let lm: Tensor;
  if (o.seqLen && !o.logits) { // (hooks never touch the LM head in training)
    // blocks of ~128 positions: the [tokens, vocab] logits never exist all at once
    lm = lmHeadCrossEntropy(g, x, E, labels, defaultChunks(o.seqLen));
  } else {
    const logits = linear(g, x, E);
    lm = crossEntropy(g, g.reshape(logits, [-1, c.vocab_size]), g.reshape(labels, [-1]));
    if (o.logits) g.output(logits, 'logits');
  }
  const loss = aux ? g.add(lm, aux) : lm;
  g.output(loss, 'loss');
  g.output(lm, 'lm_loss');
  if (aux) g.output(aux, 'aux_loss');
  return withGrads(g, params, loss, o);
}

/** Append the backward pass and what it ends in (BuildOptions.update). */
function withGrads(g: Graph, params: Map<string, Tensor>, loss: Tensor, o: BuildOptions): TrainGraph {
  const trainable = [...params.keys()].filter((n) => (o.trainable ?? (() => true))(n));
  const seed = o.lossScaling ? g.mul(loss, g.input('loss_scale', g.floatType, [])) : loss;
  const grads = grad(g, [seed], trainable.map((n) => params.get(n)!));
  const gradOf = (n: string) => {
    const gt = grads.get(params.get(n)!);
    if (!gt) throw new Error(`parameter "${n}" does not affect the loss`);
    return gt;
  };
  const update = o.update ?? 'gradients';
  if (update === 'adamw') {
    appendAdamW(g, trainable.map((name) => ({ name, param: params.get(name)!, grad: gradOf(name) })), { after: [...g.outputs], skipNonFinite: o.lossScaling });
    return { graph: g, params, trainable };
  }
  if (update === 'accumulate') {
    for (const n of trainable) {
      const acc = g.input(accumulator(n), g.floatType, params.get(n)!.shape);
      g.output(g.add(acc, gradOf(n)), updated(acc.name));
    }
    return { graph: g, params, trainable };
  }
  let sumsq: Tensor | null = null;
  for (const n of trainable) {
    const gt = gradOf(n);
    g.output(gt, `grad.${n}`);
    const sq = g.node('ReduceSumSquare', [gt], [{ dtype: gt.dtype, shape: [] }], { keepdims: { i: 0 } })[0];
    sumsq = sumsq ? g.add(sumsq, sq) : sq;
  }
  // squared global gradient norm, for clipping without another pass over the gradients
  if (sumsq) g.output(sumsq, 'grad_sumsq');
  return { graph: g, params, trainable };
}

/** The input that sums a weight's gradients over the micro-batches of an accumulation group. */
export const accumulator = (name: string) => `grad_acc.${name}`;

/**
 * The optimizer step of gradient accumulation (and data parallel): AdamW over the summed
 * gradients `grad_acc.<name>` (the `grad_scale` scalar makes them a mean). zeroSums: also
 * output `new.grad_acc.<name>` = 0, the sums reset for the next group where they live in
 * device memory (outputs there are new buffers; on the CPU the sums are zeroed in place by
 * the caller, since an output bound to its own input's buffer could be written before the
 * update reads it).
 */
export function buildApplyGraph(shapes: Map<string, number[]>, ft: FloatType = 'float32', skipNonFinite = false, zeroSums = false): Graph {
  const g = new Graph(ft);
  const entries = [...shapes].map(([name, shape]) => ({ name, param: g.input(name, ft, shape), grad: g.input(accumulator(name), ft, shape) }));
  appendAdamW(g, entries, { skipNonFinite });
  if (zeroSums) for (const e of entries) g.output(g.zeros(g.ints(e.grad.shape as number[]), e.grad.shape), updated(e.grad.name));
  return g;
}

export interface DecodeGraphOptions {
  dtype?: FloatType;
  /** logits for every position ([B, T, V]) instead of the last one ([B, V]) */
  allLogits?: boolean;
  linearHook?: LinearHook;
  /** window form: linear layers of one input as one product (see FusedLinear) */
  fusedLinear?: FusedLinear;
  extraParams?: { name: string; shape: number[] }[];
  /**
   * window (default): the caller keeps the cache in a window of M slots (see KvWindow) and
   * writes each run's new keys and values into it. concat: the Hugging Face form, whose
   * outputs are the whole cache grown by this run's tokens (export).
   */
  kvCache?: 'window' | 'concat';
  /** concat only: rope_cos/rope_sin are [B, T, hd] (positions per row) instead of [T, hd] */
  ropePerRow?: boolean;
  /** what the graph is built for (default cpu; see GraphTarget) */
  target?: GraphTarget;
}

/**
 * Decode graph. Window form (kvCache 'window', run by ONNX Runtime only: its kernels for
 * RMSNorm, RoPE and attention's layout): inputs past_key.<l> and past_value.<l>
 * [B, 1, KV, M, hd], past_bias [B, 1, 1, 1, M] (0 for each row's used slots), attn_bias
 * [*, T, 1, rep, T] (causal among the new tokens), position_ids [B, T] and the RoPE tables
 * rope_cos/rope_sin [P, hd/2] they index; outputs key.<l>/value.<l> [B, T, KV*hd], the new
 * tokens' keys (after RoPE) and values. Concat form: inputs past_key.<l>/past_value.<l>
 * [B, P, KV, hd] (P may be 0), outputs present_key.<l>/present_value.<l> [B, P+T, KV, hd].
 * Both output `logits` [B, V] of the last position (allLogits: [B, T, V]).
 */
export function buildDecodeGraph(c: MiniMindConfig, o: DecodeGraphOptions = {}): Graph {
  const ft = o.dtype ?? 'float32';
  const g = new Graph(ft);
  const window = (o.kvCache ?? 'window') === 'window';
  const rep = c.num_attention_heads / c.num_key_value_heads;
  const { p, ids, cos, sin, bias } = commonInputs(g, c, ft, 'T', window ? 'T' : '?S', o.extraParams ?? [], 'B',
    { ropePerRow: o.ropePerRow, ropeTable: window, biasShape: window ? ['?bias_batch', 'T', 1, rep, 'T'] : undefined });
  // the window layers call the norm kernels themselves (windowDecoderLayer)
  const ctx: Ctx = { g, c, p, cos, sin, bias, training: false, lin: o.linearHook ?? ((_g, _x, _n, plain) => plain()), hooked: !!o.linearHook, chunks: 1, target: o.target,
    fused: window ? o.fusedLinear : undefined };
  const hd = headDim(c), KV = c.num_key_value_heads;
  let x = g.gather(p('model.embed_tokens.weight'), ids);
  if (window) {
    const positions = g.input('position_ids', 'int64', ['B', 'T']), pastBias = g.input('past_bias', ft, ['B', 1, 1, 1, 'M']);
    let widths: Tensor | undefined, pending: Tensor | null = null;
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const pastK = g.input(`past_key.${l}`, ft, ['B', 1, KV, 'M', hd]), pastV = g.input(`past_value.${l}`, ft, ['B', 1, KV, 'M', hd]);
      const r = windowDecoderLayer(ctx, l, x, pending, positions,
        (q, k, v) => windowAttention(g, q, k, v, pastK, pastV, pastBias, bias!, (widths ??= windowWidths(g, pastBias, k))));
      ({ x, pending } = r);
      g.output(r.k, `key.${l}`);
      g.output(r.v, `value.${l}`);
    }
    x = skipRmsNormKernel(g, x, pending!, p('model.norm.weight'), c.rms_norm_eps)[0];
    if (!o.allLogits) x = g.squeeze(g.slice(x, 1, -1, 2 ** 40), [1]);
  } else {
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const r = decoderLayer(ctx, l, { x, pastK: g.input(`past_key.${l}`, ft, ['B', 'P', KV, hd]), pastV: g.input(`past_value.${l}`, ft, ['B', 'P', KV, hd]) });
      x = r.x;
      g.output(r.k, `present_key.${l}`);
      g.output(r.v, `present_value.${l}`);
    }
    if (!o.allLogits) x = g.squeeze(g.slice(x, 1, -1, 2 ** 40), [1]);
    x = norm(ctx, x, 'model.norm.weight');
  }
  g.output(ctx.lin(g, x, 'model.embed_tokens.weight', () => linear(g, x, p('model.embed_tokens.weight')), p), 'logits');
  return g;
}

/**
 * Multiple-choice graph (C-Eval): a full forward pass without a KV cache, of which only
 * each row's last real position goes through the last layer's query, output and MLP
 * projections and meets the LM head. Rows are right-padded, which causal attention keeps
 * from touching the real tokens. Inputs `last_index` [B] (row*T + position of the row's
 * last real token), `last_pos` [B] (that position), `last_bias` [B, 1, rep, T] (0 up to
 * last_pos, -1e9 after) and `choice_ids` [K]. Outputs `choice_logits` [B, K] (the hidden
 * state times just those K embedding rows) and `logsumexp` [B] over the whole vocabulary
 * at that one position, so p(choice) is the same full softmax MiniMind's scorer reads.
 * With `weights`, the weights are constants of the graph instead of inputs. With `fused`
 * (float32), the other layers' attention (and RoPE, for head sizes in multiples of 16) is
 * ONNX Runtime's GroupQueryAttention kernel (causal, per-row lengths `seqlens_k` [B] int32 =
 * last_pos, no bias tensor; about 10% less CPU time than the graph's own ops); otherwise
 * the graph's own attention with `attn_bias`.
 */
export function buildChoiceGraph(c: MiniMindConfig, o: { dtype?: FloatType; weights?: Map<string, Float32Array>; fused?: boolean; target?: GraphTarget } = {}): Graph {
  const ft = o.dtype ?? 'float32';
  const g = new Graph(ft);
  const fused = (o.fused ?? true) && ft === 'float32';
  const { ids, cos, sin, bias, shapes, p: inputP } = commonInputs(g, c, ft, 'T', 'T', [], 'B', { withBias: !fused });
  // weights given here become initializers: ONNX Runtime then pre-packs the matrices once
  const consts = new Map<string, Tensor>();
  const p: ParamFn = !o.weights ? inputP : (n) => {
    let t = consts.get(n);
    if (!t) consts.set(n, (t = g.constant(o.weights!.get(n)!, ft, shapes.get(n)!)));
    return t;
  };
  const hd = headDim(c), H = c.num_attention_heads, KV = c.num_key_value_heads, d = c.hidden_size;
  // int32 positions: the kernel's seqlens_k as they are, and no int64 Cast (WebGPU has none)
  const last = g.input('last_index', 'int32', ['B']), lastPos = g.input('last_pos', 'int32', ['B']);
  let attend: Ctx['attend'];
  const kernelRopes = fused && hd % 16 === 0; // the kernel's RoPE wants head sizes in multiples of 16
  if (fused) {
    const total = g.cast(g.slice(g.shapeOf(ids), 0, 1, 2), 'int32');
    const half = (t: Tensor) => g.slice(t, 1, 0, hd / 2); // [T, hd/2]: the tables repeat their halves
    const rotary = kernelRopes ? [half(cos), half(sin)] : [];
    attend = (q, k, v) => g.node('GroupQueryAttention',
      [g.reshape(q, [0, 0, -1]), g.reshape(k, [0, 0, -1]), g.reshape(v, [0, 0, -1]), null, null, lastPos, total, ...rotary],
      [{ dtype: ft, shape: [q.shape[0], q.shape[1], H * hd] }, { dtype: ft, shape: [q.shape[0], KV, '?S', hd] }, { dtype: ft, shape: [q.shape[0], KV, '?S', hd] }],
      { num_heads: { i: H }, kv_num_heads: { i: KV }, ...(kernelRopes ? { do_rotary: { i: 1 }, rotary_interleaved: { i: 0 } } : {}) }, 'com.microsoft')[0];
  }
  const ctx: Ctx = { g, c, p, cos, sin, bias, training: false, lin: (_g, _x, _n, plain) => plain(), hooked: false, chunks: 1, attend, attendRopes: kernelRopes, normKernel: fused, target: o.target };
  const E = p('model.embed_tokens.weight');
  let x = g.gather(E, ids);
  for (let l = 0; l < c.num_hidden_layers - 1; l++) x = decoderLayer(ctx, l, { x }).x;
  const pick = (t: Tensor, width: number) => g.unsqueeze(g.gather(g.reshape(t, [-1, width]), last), [1]); // B, 1, width
  // the last layer: keys and values of every position, the rest only at each row's last one
  const l = c.num_hidden_layers - 1, pre = `model.layers.${l}`;
  x = g.scope(`layer${l}`, () => {
    const h = norm(ctx, x, `${pre}.input_layernorm.weight`);
    let k = g.reshape(linear(g, h, p(`${pre}.self_attn.k_proj.weight`)), [0, 0, KV, hd]);
    const v = g.reshape(linear(g, h, p(`${pre}.self_attn.v_proj.weight`)), [0, 0, KV, hd]);
    let q = g.reshape(linear(g, pick(h, d), p(`${pre}.self_attn.q_proj.weight`)), [0, 0, H, hd]); // B, 1, H, hd
    if (c.qk_norm) {
      q = norm(ctx, q, `${pre}.self_attn.q_norm.weight`);
      k = norm(ctx, k, `${pre}.self_attn.k_norm.weight`);
    }
    k = rope(g, k, cos, sin);
    const at = (t: Tensor) => g.unsqueeze(g.gather(t, lastPos), [1]); // B, 1, hd: rope() adds the head axis
    q = rope(g, q, at(cos), at(sin));
    const a = attention(g, q, k, v, g.input('last_bias', ft, ['B', 1, H / KV, 'T']));
    const xl = g.add(pick(x, d), linear(g, a, p(`${pre}.self_attn.o_proj.weight`)));
    const h2 = norm(ctx, xl, `${pre}.post_attention_layernorm.weight`);
    return g.add(xl, c.use_moe ? moe(ctx, h2, `${pre}.mlp`).y : swiglu(ctx, h2, `${pre}.mlp`));
  });
  const h = norm(ctx, g.squeeze(x, [1]), 'model.norm.weight'); // B, d
  g.output(linear(g, h, g.gather(E, g.input('choice_ids', 'int64', ['K']))), 'choice_logits');
  const z = linear(g, h, E), m = g.reduceMax(z, [1], true);   // one vocabulary row per question
  g.output(g.add(g.squeeze(m, [1]), g.log(g.reduceSum(g.exp(g.sub(z, m)), [1], false))), 'logsumexp');
  return g;
}
