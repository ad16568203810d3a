// bench matmul's shape list: one training step's products, FLOP-weighted median.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainShapes, weightedMedian } from '../src/bench/matmul.js';
import { PRESETS } from '../src/model/config.js';
import { countParams } from '../src/model/params.js';

test('the shapes of a dense step do 6 FLOPs per weight per token, plus the recomputed LM head', () => {
  const c = PRESETS['minimind-v1-small'], N = 4 * 512;
  const f = trainShapes(c, 4, 512).reduce((p, s) => p + 2 * s.m * s.k * s.n * s.count, 0);
  // forward, input and weight gradient of every projection; the tied head's forward runs twice
  assert.equal(f, 6 * N * countParams(c) + 2 * N * c.vocab_size * c.hidden_size - 6 * N * c.hidden_size * (2 * c.num_hidden_layers + 1));
  for (const s of trainShapes(c, 4, 512)) if (s.trans === 'A') assert.equal(s.k, s.what.startsWith('lm_head') ? N / 4 : N);
});

test('weighted median follows the FLOPs, not the count of shapes', () => {
  assert.equal(weightedMedian([{ gflops: 10, weight: 1 }, { gflops: 20, weight: 1 }, { gflops: 30, weight: 5 }]), 30);
  assert.equal(weightedMedian([{ gflops: 10, weight: 1 }, { gflops: 20, weight: 1 }]), 15);
});
