// The typed options of a training stage. The CLI builds them once from its flags
// (src/cli); the demo and tests build them directly. Nothing below the CLI reads flags.
import { Format } from '../data/process.js';
import { Schedule } from '../runtime/optimizer.js';

/** Where a run lives and how it trains. */
export interface TrainOptions {
  /** runs are written to <outDir>/<saveWeight> */
  outDir: string;
  saveWeight: string;
  /** tokenizer directory for a fresh model (a starting model directory brings its own) */
  tokenizer: string;
  epochs: number;
  /** stop after this many optimizer steps (overrides epochs) */
  maxSteps?: number;
  batchSize: number;
  accumulationSteps: number;
  maxSeqLen: number;
  learningRate: number;
  schedule: Schedule;
  warmupSteps: number;
  weightDecay: number;
  /** max global gradient norm (0 = off) */
  gradClip: number;
  logInterval: number;
  saveInterval: number;
  keepCheckpoints: number;
  /** false: fresh run; true: the run's latest checkpoint; a string: that checkpoint directory */
  fromResume: boolean | string;
  seed: number;
  progress: boolean;
  /** mixed precision on GPU providers (MatMuls in this type; float16 with loss scaling); the CPU trains in float32 */
  dtype?: 'float32' | 'float16' | 'bfloat16';
  /** write TensorBoard event files into <run>/tb (default true) */
  tensorboard?: boolean;
}

/** The training data: raw files (processed once into the run's cache) or a data-process directory. */
export interface DataOptions {
  /** file(s), comma-separated, or a directory made by data-process */
  dataPath: string | string[];
  format?: Format;
  /** stop at the first malformed record instead of skipping it */
  strict?: boolean;
  progress?: boolean;
}
