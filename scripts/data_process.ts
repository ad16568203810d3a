// MiniMind's data_process.py: the same as `minimind data-process` (node dist/scripts/data_process.js --help).
process.argv.splice(2, 0, 'data-process');
await import('../bin/minimind.js');
