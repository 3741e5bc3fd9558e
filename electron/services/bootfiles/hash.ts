import { createHash } from 'node:crypto';

/** The hex sha256 of bytes or text: how boot files are compared everywhere (manifest, plan, served copy). */
export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
