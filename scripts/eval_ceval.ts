// MiniMind's eval_ceval.py: the same as `minimind ceval` (node dist/scripts/eval_ceval.js --help).
process.argv.splice(2, 0, 'ceval');
await import('../bin/minimind.js');
