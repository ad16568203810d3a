// A UserError is the user's to fix (bad flag, bad file): the CLI prints its message on
// one line, without a stack trace.
export class UserError extends Error {}

/** Errors of our own modules that describe bad input rather than a bug. */
export function isUserFacing(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  return e instanceof UserError || ['ConfigError', 'SafetensorsError', 'ProviderError', 'DataError', 'CheckpointError', 'TokenizerError', 'GraphError']
    .includes(e.constructor.name);
}
