import path from 'node:path';

/** A path as the user would type it from here (for messages). */
export const rel = (p: string) => path.relative(process.cwd(), p) || '.';
