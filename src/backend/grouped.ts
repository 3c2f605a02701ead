/**
 * Grouped convolution (1 < groups, not depthwise) on any backend, from the backend's own dense
 * convolution and copyRegion: each group's slice of the input channels, of the weights and of the
 * output channels is copied into a dense scratch storage, convolved with the groups = 1 kernels,
 * and copied back. The copies cost a pass over x and y per group, small beside the GEMMs of a
 * group with several channels; depthwise convolutions (one channel per group, where the copies
 * and the tiny GEMMs would dominate) have direct kernels instead (cpu/depthwise.ts,
 * native/depthwise.c, webgpu/k-depthwise.ts).
 */
import type { Backend, Storage } from './backend.js';
import { convGroups, type Conv2dGeom } from './kernels.js';

/** The geometry of one group's dense convolution, and the sizes the copies need. */
function split(g: Conv2dGeom): { G: number; cg: number; og: number; sub: Conv2dGeom; hw: number; P: number; kk: number } {
  const G = convGroups(g);
  const cg = g.c / G, og = g.o / G;
  return { G, cg, og, sub: { ...g, c: cg, o: og, groups: 1 }, hw: g.h * g.w, P: g.oh * g.ow, kk: g.kh * g.kw };
}

/** dst[:, j cnt : (j+1) cnt, :] (of [rows, total, inner]) = src [rows, cnt, inner], or the reverse when `out` is false. */
function channels(be: Backend, dense: Storage, grouped: Storage, rows: number, total: number, cnt: number, inner: number, j: number, out: boolean): void {
  const d = [rows, cnt, inner], gs = [rows, total, inner], z = [0, 0, 0], at = [0, j * cnt, 0];
  if (out) be.copyRegion(dense, d, z, grouped, gs, at, d);
  else be.copyRegion(grouped, gs, at, dense, d, z, d);
}

/** y = conv(x, w) + bias for a grouped geometry (see Conv2dGeom.groups). */
export function groupedConv2dForward(be: Backend, x: Storage, w: Storage, bias: Storage | null, y: Storage, g: Conv2dGeom): void {
  const { G, cg, og, sub, hw, P, kk } = split(g);
  const xs = be.empty(g.n * cg * hw), ws = be.empty(og * cg * kk), ys = be.empty(g.n * og * P);
  const bs = bias === null ? null : be.empty(og);
  for (let j = 0; j < G; j++) {
    channels(be, xs, x, g.n, g.c, cg, hw, j, false);
    channels(be, ws, w, 1, g.o, og, cg * kk, j, false);
    if (bias !== null && bs !== null) channels(be, bs, bias, 1, g.o, og, 1, j, false);
    be.conv2dForward(xs, ws, bs, ys, sub);
    channels(be, ys, y, g.n, g.o, og, P, j, true);
  }
  for (const s of [xs, ws, ys, bs]) if (s !== null) be.release(s);
}

/** gx = dL/dx of a grouped convolution. */
export function groupedConv2dBackwardData(be: Backend, gy: Storage, w: Storage, gx: Storage, g: Conv2dGeom): void {
  const { G, cg, og, sub, hw, P, kk } = split(g);
  const gys = be.empty(g.n * og * P), ws = be.empty(og * cg * kk), gxs = be.empty(g.n * cg * hw);
  for (let j = 0; j < G; j++) {
    channels(be, gys, gy, g.n, g.o, og, P, j, false);
    channels(be, ws, w, 1, g.o, og, cg * kk, j, false);
    be.conv2dBackwardData(gys, ws, gxs, sub);
    channels(be, gxs, gx, g.n, g.c, cg, hw, j, true);
  }
  for (const s of [gys, ws, gxs]) be.release(s);
}

/** gw = dL/dw of a grouped convolution (gw [o, c / groups, kh, kw]). */
export function groupedConv2dBackwardWeight(be: Backend, gy: Storage, x: Storage, gw: Storage, g: Conv2dGeom): void {
  const { G, cg, og, sub, hw, P, kk } = split(g);
  const gys = be.empty(g.n * og * P), xs = be.empty(g.n * cg * hw), gws = be.empty(og * cg * kk);
  for (let j = 0; j < G; j++) {
    channels(be, gys, gy, g.n, g.o, og, P, j, false);
    channels(be, xs, x, g.n, g.c, cg, hw, j, false);
    be.conv2dBackwardWeight(gys, xs, gws, sub);
    channels(be, gws, gw, 1, g.o, og, cg * kk, j, true);
  }
  for (const s of [gys, xs, gws]) be.release(s);
}
