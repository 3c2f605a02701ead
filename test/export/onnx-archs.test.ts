/**
 * Every architecture of the registry exported to ONNX and run in ONNX Runtime (onnxruntime-node,
 * CPU): the logits equal pdiff's eval-mode forward to 1e-4 at batch 1 and batch 7, with the
 * deterministic weights of test/helpers/det-weights.ts (BatchNorm statistics away from 0 and 1).
 * The graph's interface (names, dynamic batch, opset, initializers by state_dict name) is checked
 * on the decoded file. Skipped, with the reason, only where onnxruntime-node is not installed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { resolveBackend } from '../../src/backend/index.js';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from '../../src/export/onnx.js';
import { decodeModel } from '../../src/export/onnx-proto.js';
import { loadOnnxRuntime, OnnxSession } from '../../src/export/runtime.js';
import { ARCH_NAMES, buildClassifier, type Arch, type Classifier, type ModelOptions } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';
import { detFill } from '../helpers/det-weights.js';
import { loadStateDict, saveStateDict } from '../../src/zoo/checkpoint.js';

/** Small sizes of each architecture (a case per stem where the stem changes the graph). */
export const ARCH_CASES: Array<{ name: string; arch: Arch; inShape: [number, number, number]; model: ModelOptions }> = [
  { name: 'mlp', arch: 'mlp', inShape: [1, 8, 8], model: { mlpHidden: [16, 12] } },
  { name: 'cnn-s', arch: 'cnn-s', inShape: [1, 12, 12], model: {} },
  { name: 'resnet20', arch: 'resnet20', inShape: [3, 16, 16], model: {} },
  { name: 'resnet32', arch: 'resnet32', inShape: [1, 8, 8], model: {} },
  { name: 'resnet56', arch: 'resnet56', inShape: [1, 8, 8], model: {} },
  { name: 'resnet18', arch: 'resnet18', inShape: [3, 8, 8], model: {} },
  { name: 'resnet18-imagenet-stem', arch: 'resnet18', inShape: [1, 16, 16], model: { stem: 'imagenet' } },
  { name: 'resnet50', arch: 'resnet50', inShape: [3, 8, 8], model: {} },
  { name: 'efficientnet-s', arch: 'efficientnet-s', inShape: [1, 16, 16], model: {} },
  { name: 'efficientnet-b0-imagenet-stem', arch: 'efficientnet-b0', inShape: [3, 32, 32], model: { stem: 'imagenet' } },
  { name: 'vit', arch: 'vit', inShape: [1, 16, 16], model: { vit: { patchSize: 4, layers: 2, heads: 2, hidden: 16, mlp: 32 } } },
];

const be = resolveBackend('blas', true);
const rt = await loadOnnxRuntime();
const skip = rt.available ? false : rt.reason;
const sessions: OnnxSession[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-onnx-archs-'));
after(async () => {
  for (const s of sessions) await s.release();
  rmSync(tmp, { recursive: true, force: true });
});

const built = new Map<string, Classifier>();
/** The case's model with the deterministic weights, in eval mode (built once: resnet50 has 23.5M parameters). */
function detModel(c: (typeof ARCH_CASES)[number]): Classifier {
  let model = built.get(c.name);
  if (!model) {
    model = buildClassifier(c.arch, { rng: new Rng(3), backend: be, inShape: c.inShape, numClasses: 10, model: c.model });
    detFill(model);
    built.set(c.name, model.eval());
  }
  return model;
}

const logitsOf = (model: Classifier, x: Float32Array, shape: number[]): Float32Array | Float64Array =>
  noGrad(() => be.read(model.forward(new Tensor(be.fromArray(x), shape, be)).storage));

describe('ONNX export of every architecture, run in ONNX Runtime', () => {
  test('the cases cover every architecture of the registry', () => {
    assert.deepEqual([...new Set(ARCH_CASES.map((c) => c.arch))].sort(), [...ARCH_NAMES].sort());
  });

  for (const c of ARCH_CASES) {
    test(`${c.name}: logits equal pdiff's forward to 1e-4 at batch 1 and 7`, { skip }, async () => {
      if (!rt.available) return;
      const model = detModel(c);
      const bytes = exportOnnx({ model, inShape: c.inShape, numClasses: 10 });
      const session = await OnnxSession.create(rt, { bytes, input: ONNX_INPUT, output: ONNX_OUTPUT });
      sessions.push(session);
      const rng = new Rng(11);
      for (const batch of [1, 7]) {
        const x = Float32Array.from(rng.fillNormal(new Float32Array(batch * c.inShape[0] * c.inShape[1] * c.inShape[2])));
        const want = logitsOf(model, x, [batch, ...c.inShape]);
        const got = await session.run(x, [batch, ...c.inShape]);
        assert.deepEqual(got.dims, [batch, 10]);
        assertClose(got.data, want, { atol: 1e-4, rtol: 1e-4 }, `${c.name} batch ${batch}`);
      }
    });
  }
});

describe('ONNX file interface', () => {
  test('opset 17, IR 8, input "input" [batch, C, H, W] and output "logits" [batch, classes], one initializer per state_dict tensor with its exact values', () => {
    // the large torchvision ResNets take the same code paths as resnet20 and the imagenet stem case
    for (const c of ARCH_CASES.filter((k) => k.name !== 'resnet18' && k.name !== 'resnet50')) {
      const model = detModel(c);
      const m = decodeModel(exportOnnx({ model, inShape: c.inShape, numClasses: 10, metadata: { pdiff_arch: c.arch } }));
      assert.equal(m.irVersion, 8, c.name);
      assert.deepEqual(m.opsetImport.map((o) => [o.domain, o.version]), [['', 17]], c.name);
      const dims = (v: (typeof m.graph.input)[number]) => v.type.tensorType.shape.dim.map((d) => ('dimParam' in d && d.dimParam ? d.dimParam : (d as { dimValue: number }).dimValue));
      assert.deepEqual(m.graph.input.map((v) => [v.name, dims(v)]), [[ONNX_INPUT, ['batch', ...c.inShape]]], c.name);
      assert.deepEqual(m.graph.output.map((v) => [v.name, dims(v)]), [[ONNX_OUTPUT, ['batch', 10]]], c.name);
      assert.deepEqual(m.metadataProps, [{ key: 'pdiff_arch', value: c.arch }]);
      const inits = new Map(m.graph.initializer.map((t) => [t.name, t]));
      for (const [name, t] of model.stateDict()) {
        const init = inits.get(name);
        assert.ok(init, `${c.name}: no initializer "${name}"`);
        assert.deepEqual(init.dims, [...t.shape], `${c.name} ${name} dims`);
        const raw = init.rawData;
        assert.deepEqual(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Float32Array.from(be.read(t.storage)), `${c.name} ${name} values`);
      }
      const ops = new Set(m.graph.node.map((n) => n.opType));
      if (c.arch.startsWith('resnet') || c.arch === 'cnn-s' || c.arch.startsWith('efficientnet')) assert.ok(ops.has('BatchNormalization'), `${c.name}: BN is exported as BatchNormalization`);
      if (c.arch === 'vit') for (const op of ['LayerNormalization', 'Softmax', 'MatMul', 'Erf']) assert.ok(ops.has(op), `vit uses ${op}`);
      if (c.arch.startsWith('efficientnet')) for (const op of ['Sigmoid', 'Mul', 'GlobalAveragePool']) assert.ok(ops.has(op), `${c.name} uses ${op}`);
    }
  });
});

describe('safetensors export of every architecture', () => {
  for (const c of ARCH_CASES.filter((k) => k.name !== 'resnet18-imagenet-stem')) {
    test(`${c.name}: the state_dict file loads into a fresh pdiff model and gives the same logits bit for bit`, () => {
      const model = detModel(c);
      const file = join(tmp, `${c.name}.safetensors`);
      saveStateDict(file, model, { pdiff_arch: c.arch });
      const fresh = buildClassifier(c.arch, { rng: new Rng(99), backend: be, inShape: c.inShape, numClasses: 10, model: c.model }).eval();
      loadStateDict(file, fresh);
      const x = Float32Array.from(new Rng(5).fillNormal(new Float32Array(7 * c.inShape[0] * c.inShape[1] * c.inShape[2])));
      assert.deepEqual(logitsOf(fresh, x, [7, ...c.inShape]), logitsOf(model, x, [7, ...c.inShape]));
    });
  }
});
