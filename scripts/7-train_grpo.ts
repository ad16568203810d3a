// MiniMind's train_grpo.py: the same as `minimind grpo` (node dist/scripts/7-train_grpo.js --help).
process.argv.splice(2, 0, 'grpo');
await import('../bin/minimind.js');
