/**
 * The small part of the WebGPU API the worker uses, typed here so that the project type-checks
 * without @webgpu/types (the `webgpu` package is an optional dependency). Constants are the
 * values fixed by the WebGPU specification.
 */

export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;
export const ShaderStage = { COMPUTE: 0x4 } as const;

export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuBindGroupLayout { readonly __brand?: 'bgl' }
export interface GpuPipelineLayout { readonly __brand?: 'pl' }
export interface GpuBindGroup { readonly __brand?: 'bg' }
export interface GpuShaderModule {
  getCompilationInfo?(): Promise<{ messages: ReadonlyArray<{ type: string; message: string; lineNum: number; linePos: number }> }>;
}
export interface GpuComputePipeline { readonly __brand?: 'cp' }
export interface GpuCommandBuffer { readonly __brand?: 'cb' }

export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(index: number, bg: GpuBindGroup, dynamicOffsets?: number[]): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(desc?: object): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  clearBuffer(buf: GpuBuffer, offset?: number, size?: number): void;
  finish(): GpuCommandBuffer;
}

export interface GpuQueue {
  submit(cbs: GpuCommandBuffer[]): void;
  writeBuffer(buf: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBufferLike, dataOffset?: number, size?: number): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuError { readonly message: string }

export interface GpuDevice {
  readonly queue: GpuQueue;
  readonly limits: Record<string, number>;
  readonly lost: Promise<{ reason?: string; message?: string }>;
  onuncapturederror: ((ev: { error?: GpuError }) => void) | null;
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createShaderModule(desc: { code: string }): GpuShaderModule;
  createBindGroupLayout(desc: { entries: object[] }): GpuBindGroupLayout;
  createPipelineLayout(desc: { bindGroupLayouts: GpuBindGroupLayout[] }): GpuPipelineLayout;
  createComputePipeline(desc: { layout: GpuPipelineLayout; compute: { module: GpuShaderModule; entryPoint: string } }): GpuComputePipeline;
  createBindGroup(desc: { layout: GpuBindGroupLayout; entries: object[] }): GpuBindGroup;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GpuError | null>;
  destroy(): void;
}

export interface GpuAdapter {
  readonly limits: Record<string, number>;
  readonly features: { has(name: string): boolean } & Iterable<string>;
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  requestDevice(desc?: { requiredLimits?: Record<string, number>; requiredFeatures?: string[] }): Promise<GpuDevice>;
}

export interface Gpu {
  requestAdapter(opts?: { featureLevel?: string; powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<GpuAdapter | null>;
}

/** What `import('webgpu')` gives. */
export interface WebgpuModule {
  create(options: string[]): Gpu;
  globals: object;
}
