// Data parallel from torchrun's environment (RANK, WORLD_SIZE, ...; set by `minimind
// launch`): the peers a training loop averages its gradients with. NCCL between CUDA
// devices, local sockets otherwise.
import { connect, worldFromEnv, Collective } from '../parallel/collective.js';
import { SessionOptions } from '../runtime/session.js';

export async function joinPeers(so: SessionOptions, env: NodeJS.ProcessEnv = process.env): Promise<Collective | null> {
  const w = worldFromEnv(env);
  if (!w) return null;
  return connect(w, { backend: so.provider === 'cuda' ? 'nccl' : 'cpu' });
}
