// MiniMind's 3-full_sft.py: the same as `minimind full-sft` (node dist/scripts/3-full_sft.js --help).
process.argv.splice(2, 0, 'full-sft');
await import('../bin/minimind.js');
