// MiniMind's train_distillation.py: the same as `minimind distill` (node dist/scripts/6-train_distillation.js --help).
process.argv.splice(2, 0, 'distill');
await import('../bin/minimind.js');
