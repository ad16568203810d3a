// Child process of runtime/placement.ts: creates one session with ONNX Runtime's verbose log
// on (which it writes to this process's stderr, where the parent reads the node placements)
// and saves the graph as ORT optimized it. Arguments: model file, provider, options JSON,
// where to write the optimized model.
import fs from 'node:fs';
import { ort, ortSessionOptions, Provider, SessionOptions } from './session.js';

const [model, provider, optionsJson, optimizedPath] = process.argv.slice(2);
ort.env.logLevel = 'verbose';
const o = JSON.parse(optionsJson) as SessionOptions;
try {
  const s = await ort.InferenceSession.create(fs.readFileSync(model), {
    ...ortSessionOptions(provider as Exclude<Provider, 'auto'>, o), logSeverityLevel: 0, logVerbosityLevel: 0, optimizedModelFilePath: optimizedPath,
  });
  await s.release();
} catch (e) {
  process.stderr.write(`PLACEMENT-ERROR ${(e as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
