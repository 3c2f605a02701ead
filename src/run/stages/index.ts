/** The stage functions by name, in run order (src/run/context.ts lists the names and what each hash covers). */
import type { StageFn, StageName } from '../context.js';
import { ae } from './ae.js';
import { base } from './base.js';
import { collect } from './collect.js';
import { diffusion } from './diffusion.js';
import { evalOriginals } from './eval-originals.js';
import { evaluate } from './evaluate.js';
import { generate } from './generate.js';
import { report } from './report.js';

export const STAGE_FNS: Record<StageName, StageFn> = {
  base, collect, 'eval-originals': evalOriginals, ae, diffusion, generate, evaluate, report,
};
