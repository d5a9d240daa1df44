import { Chalk, type ChalkInstance } from 'chalk';

export interface RenderOptions {
  color: boolean;
  width: number;
  verbose?: boolean;
}

export function painter(opts: RenderOptions): ChalkInstance {
  return new Chalk({ level: opts.color ? 1 : 0 });
}
