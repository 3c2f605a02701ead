/**
 * CIFAR-10 / CIFAR-100 binary batches.
 *
 * CIFAR-10 (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`): records of 1 label byte
 * + 3072 pixel bytes. CIFAR-100 (`train.bin`, `test.bin`): 2 label bytes (coarse, fine) + 3072.
 * The pixels of a record are 1024 red, 1024 green, 1024 blue, each 32x32 row-major: already
 * [C, H, W]. Splits: val = the last 5,000 training images, train = the rest, test = the test file.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, PdiffError } from '../util/errors.js';
import { DatasetNotFoundError, normLut, type Dataset, type Norm, type Splits } from './dataset.js';

const C = 3;
const H = 32;
const W = 32;
const PIXELS = C * H * W; // 3072

/** CIFAR-10 per-channel statistics of the training set (RGB). */
export const CIFAR10_NORM: Norm = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
/** CIFAR-100 per-channel statistics of the training set (RGB). */
export const CIFAR100_NORM: Norm = { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] };

export const CIFAR10_CLASSES: readonly string[] = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

/** CIFAR-100 fine labels, in label order (alphabetical, as in `fine_label_names.txt`). */
export const CIFAR100_FINE_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

/** CIFAR-100 coarse labels (superclasses), in label order. */
export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables',
  'household_electrical_devices', 'household_furniture', 'insects', 'large_carnivores',
  'large_man-made_outdoor_things', 'large_natural_outdoor_scenes', 'large_omnivores_and_herbivores',
  'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals', 'trees',
  'vehicles_1', 'vehicles_2',
];

/** Options for {@link loadCifar10} and {@link loadCifar100}. */
export interface CifarOptions {
  /** Validation images from the end of the (possibly limited) training set. Default 5000,
   * or round(limitTrain/10) when limitTrain is set. */
  valSize?: number;
  /** Use only the first `limitTrain` training records (train + val); only the files needed are read. */
  limitTrain?: number;
  /** Use only the first `limitTest` test records. */
  limitTest?: number;
  /** Per-channel normalisation; default the dataset's usual constants. */
  norm?: Norm;
}

/** Options for {@link loadCifar100}. */
export interface Cifar100Options extends CifarOptions {
  /** Which label to use: the 100 fine classes (default) or the 20 coarse superclasses. */
  labels?: 'fine' | 'coarse';
}

/** How records of one CIFAR variant are laid out. */
interface RecordFormat {
  /** Label bytes before the pixels (1 for CIFAR-10, 2 for CIFAR-100). */
  labelBytes: number;
  /** Which of the label bytes is used. */
  labelIndex: number;
  numClasses: number;
}

/** Records in each file, checking that each length is a whole number of records. */
function countRecords(files: readonly string[], recordSize: number): number[] {
  return files.map((f) => {
    const len = statSync(f).size;
    if (len === 0 || len % recordSize !== 0) {
      throw new FormatError(
        f,
        `length ${len} bytes is not a positive multiple of the record size ${recordSize} ` +
          `(${recordSize - PIXELS} label byte(s) + ${PIXELS} pixel bytes)`,
      );
    }
    return len / recordSize;
  });
}

/**
 * Read the first `total` records spread over `files` and write them into the splits: record g
 * goes to `targets[j]` for the j with starts[j] <= g < starts[j+1].
 */
function readRecords(
  files: readonly string[], counts: readonly number[], total: number, fmt: RecordFormat,
  targets: readonly Dataset[], luts: readonly Float32Array[],
): void {
  const recordSize = fmt.labelBytes + PIXELS;
  let g = 0; // global record index
  let t = 0; // current target
  let local = 0; // index inside the current target
  for (let fi = 0; fi < files.length && g < total; fi++) {
    const file = files[fi]!;
    const take = Math.min(counts[fi]!, total - g);
    const buf = new Uint8Array(take * recordSize);
    const fd = openSync(file, 'r');
    try {
      let off = 0;
      while (off < buf.length) {
        const got = readSync(fd, buf, off, buf.length - off, off);
        if (got === 0) throw new FormatError(file, `unexpected end of file after ${off} bytes`);
        off += got;
      }
    } finally {
      closeSync(fd);
    }
    for (let r = 0; r < take; r++, g++) {
      while (local >= targets[t]!.n) {
        t++;
        local = 0;
      }
      const ds = targets[t]!;
      const base = r * recordSize;
      const label = buf[base + fmt.labelIndex]!;
      if (label >= fmt.numClasses) {
        throw new FormatError(file, `label ${label} of record ${r} is out of range [0, ${fmt.numClasses})`);
      }
      ds.labels[local] = label;
      const img = ds.images;
      const p0 = base + fmt.labelBytes;
      const o0 = local * PIXELS;
      for (let c = 0; c < C; c++) {
        const lut = luts[c]!;
        const s = p0 + c * H * W;
        const o = o0 + c * H * W;
        for (let i = 0; i < H * W; i++) img[o + i] = lut[buf[s + i]!]!;
      }
      local++;
    }
  }
}

function emptySplit(name: string, n: number, numClasses: number, norm: Norm, classNames: readonly string[]): Dataset {
  return {
    name, images: new Float32Array(n * PIXELS), labels: new Uint8Array(n), n, c: C, h: H, w: W, numClasses,
    classNames: [...classNames], norm: { mean: [...norm.mean], std: [...norm.std] },
  };
}

function loadCifar(
  name: string, trainFiles: string[], testFiles: string[], fmt: RecordFormat, norm: Norm,
  classNames: readonly string[], opts: CifarOptions,
): Splits {
  if (norm.mean.length !== C || norm.std.length !== C) {
    throw new PdiffError(`${name}: norm needs 3 means and 3 stds, got ${norm.mean.length} and ${norm.std.length}`);
  }
  const recordSize = fmt.labelBytes + PIXELS;
  const trainCounts = countRecords(trainFiles, recordSize);
  const testCounts = countRecords(testFiles, recordSize);
  const trainAvail = trainCounts.reduce((a, b) => a + b, 0);
  const testAvail = testCounts.reduce((a, b) => a + b, 0);
  const limit = (what: string, v: number | undefined, avail: number): number => {
    if (v === undefined) return avail;
    if (!Number.isInteger(v) || v < 1) throw new PdiffError(`${what} must be a positive integer, got ${v}`);
    return Math.min(v, avail);
  };
  const nTrainAll = limit('limitTrain', opts.limitTrain, trainAvail);
  const nTest = limit('limitTest', opts.limitTest, testAvail);
  const valSize = opts.valSize ?? (opts.limitTrain !== undefined ? Math.round(nTrainAll / 10) : 5000);
  if (!Number.isInteger(valSize) || valSize < 0 || valSize >= nTrainAll) {
    throw new PdiffError(`valSize must be an integer in [0, ${nTrainAll}) (the training images used), got ${valSize}`);
  }
  const luts = norm.mean.map((m, c) => normLut(m, norm.std[c]!));
  const train = emptySplit(`${name}/train`, nTrainAll - valSize, fmt.numClasses, norm, classNames);
  const val = emptySplit(`${name}/val`, valSize, fmt.numClasses, norm, classNames);
  const test = emptySplit(`${name}/test`, nTest, fmt.numClasses, norm, classNames);
  readRecords(trainFiles, trainCounts, nTrainAll, fmt, [train, val], luts);
  readRecords(testFiles, testCounts, nTest, fmt, [test], luts);
  return { train, val, test };
}

/** `dir` itself, or its standard sub-folder when the archive was unpacked into `dir`. */
function resolveDir(dir: string, sub: string, probe: string, hint: string): string {
  if (existsSync(join(dir, probe))) return dir;
  if (existsSync(join(dir, sub, probe))) return join(dir, sub);
  throw new DatasetNotFoundError(`dataset not found: no ${probe} in ${dir} or ${join(dir, sub)}. ${hint}`);
}

function requireFiles(dir: string, names: readonly string[], hint: string): string[] {
  const paths = names.map((n) => join(dir, n));
  const missing = names.filter((_, i) => !existsSync(paths[i]!));
  if (missing.length) throw new DatasetNotFoundError(`dataset incomplete in ${dir}: missing ${missing.join(', ')}. ${hint}`);
  return paths;
}

const CIFAR10_HINT = 'Download and unpack cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) and pass its directory.';
const CIFAR100_HINT = 'Download and unpack cifar-100-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) and pass its directory.';

/**
 * CIFAR-10 from the binary distribution (`dir` or `dir/cifar-10-batches-bin`), images
 * [N, 3, 32, 32] normalised per channel. Splits 45,000 / 5,000 / 10,000.
 */
export function loadCifar10(dir: string, opts: CifarOptions = {}): Splits {
  const d = resolveDir(dir, 'cifar-10-batches-bin', 'data_batch_1.bin', CIFAR10_HINT);
  const all = requireFiles(d, [...[1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), 'test_batch.bin'], CIFAR10_HINT);
  const trainFiles = all.slice(0, 5);
  const testFiles = all.slice(5);
  return loadCifar(
    'cifar10', trainFiles, testFiles, { labelBytes: 1, labelIndex: 0, numClasses: 10 },
    opts.norm ?? CIFAR10_NORM, CIFAR10_CLASSES, opts,
  );
}

/**
 * CIFAR-100 from the binary distribution (`dir` or `dir/cifar-100-binary`), fine labels by
 * default. Splits 45,000 / 5,000 / 10,000.
 */
export function loadCifar100(dir: string, opts: Cifar100Options = {}): Splits {
  const d = resolveDir(dir, 'cifar-100-binary', 'train.bin', CIFAR100_HINT);
  const [trainFile, testFile] = requireFiles(d, ['train.bin', 'test.bin'], CIFAR100_HINT) as [string, string];
  const trainFiles = [trainFile];
  const testFiles = [testFile];
  const coarse = opts.labels === 'coarse';
  return loadCifar(
    coarse ? 'cifar100-coarse' : 'cifar100', trainFiles, testFiles,
    { labelBytes: 2, labelIndex: coarse ? 0 : 1, numClasses: coarse ? 20 : 100 },
    opts.norm ?? CIFAR100_NORM, coarse ? CIFAR100_COARSE_CLASSES : CIFAR100_FINE_CLASSES, opts,
  );
}
