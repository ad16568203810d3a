// MiniMind's 2-eval.py: the same as `minimind eval` (node dist/scripts/2-eval.js --help).
process.argv.splice(2, 0, 'eval');
await import('../bin/minimind.js');
