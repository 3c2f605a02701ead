/** Stage eval-originals: val and test accuracy of the K checkpoints, also recorded in the manifest (task mode: tasks/eval-originals.ts; accuracy mode: accuracy/eval-originals.ts). */
import { readManifest, writeManifest } from '../../zoo/checkpoint.js';
import { ARTIFACTS, type StageFn } from '../context.js';
import { evaluateGroups } from './evaluate.js';
import { evalOriginalsTasks } from './tasks/eval-originals.js';
import { evalOriginalsAccuracy } from './accuracy/eval-originals.js';

export const evalOriginals: StageFn = async (ctx) => {
  if (ctx.tasks) return evalOriginalsTasks(ctx);
  if (ctx.accuracy) return evalOriginalsAccuracy(ctx);
  const out = await evaluateGroups(ctx, ['original']);
  const path = ctx.store.path(ARTIFACTS.manifest);
  const manifest = readManifest(path);
  const g = out.groups.original!;
  writeManifest(path, { ...manifest, accuracies: { val: g.val, test: g.test } });
  return { files: out.files };
};
