/**
 * What a model trained on each data set takes and predicts, without reading the data: the image
 * shape, the classes and the normalisation its loader applies (src/data/dataset.ts, cifar.ts).
 * An exported model needs these (its input shape and the normalisation a caller must apply) on a
 * machine that may not have the data; test/export/member.test.ts checks the table against the
 * loader for the data set the tests have.
 */
import type { Config } from '../config/index.js';
import { CIFAR100_FINE_CLASSES, CIFAR100_NORM, CIFAR10_CLASSES, CIFAR10_NORM } from './cifar.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_NORM, KMNIST_CLASSES, KMNIST_NORM, MNIST_CLASSES, MNIST_NORM, type Norm } from './dataset.js';

export interface DatasetInfo {
  /** One image [C, H, W]. */
  inShape: readonly [number, number, number];
  numClasses: number;
  /** Class names in label order. */
  classNames: readonly string[];
  /** The loader's normalisation: x = (pixel/255 - mean[c]) / std[c]. */
  norm: Norm;
}

type DatasetName = Config['data']['dataset'];

export const DATASET_INFO: Record<DatasetName, DatasetInfo> = {
  'fashion-mnist': { inShape: [1, 28, 28], numClasses: 10, classNames: FASHION_MNIST_CLASSES, norm: FASHION_MNIST_NORM },
  mnist: { inShape: [1, 28, 28], numClasses: 10, classNames: MNIST_CLASSES, norm: MNIST_NORM },
  kmnist: { inShape: [1, 28, 28], numClasses: 10, classNames: KMNIST_CLASSES, norm: KMNIST_NORM },
  cifar10: { inShape: [3, 32, 32], numClasses: 10, classNames: CIFAR10_CLASSES, norm: CIFAR10_NORM },
  // loadData reads CIFAR-100's fine labels
  cifar100: { inShape: [3, 32, 32], numClasses: 100, classNames: CIFAR100_FINE_CLASSES, norm: CIFAR100_NORM },
};

/** The shape, classes and normalisation of data set `name` (a config's data.dataset). */
export function datasetInfo(name: DatasetName): DatasetInfo {
  return DATASET_INFO[name];
}
