# Builds native/build/Release/pdiff_blas.node: OpenBLAS cblas_sgemm plus the C kernels of the blas
# backend (activations, batch norm, fused inference passes, max pooling, im2col and depthwise convolutions, AdamW; module.c gives the map of the sources).
# Plain C against node_api.h (no node-addon-api). `npm install` runs `node-gyp rebuild --directory native`;
# a failed build is not fatal (pdiff falls back to its pure-TS js backend).
{
  "targets": [
    {
      "target_name": "pdiff_blas",
      "sources": ["module.c", "args.c", "threadpool.c", "scratch.c", "gemm.c", "elementwise.c", "optim.c", "norm.c", "fused.c", "maxpool.c", "conv.c", "depthwise.c"],
      "defines": ["NAPI_VERSION=8"],
      # Debian/Ubuntu keep cblas.h on the default multiarch path; Fedora/RHEL under /usr/include/openblas.
      "include_dirs": ["/usr/include/openblas"],
      "libraries": ["-lopenblas"],
      # -O3 for the kernels' loops (auto-vectorised; the hottest also get an AVX2 clone picked at
      # load time). -fno-trapping-math and -fno-math-errno let selects and sqrt vectorise (nothing here reads
      # FP exception flags or errno; results are unchanged);
      # -fopenmp-simd only honours `#pragma omp simd` (vectorised double reductions):
      # no OpenMP runtime. The kernels' threads are a small pthread pool in threadpool.c.
      "cflags": ["-O3", "-std=gnu11", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='mac'", {
          "include_dirs": ["/opt/homebrew/opt/openblas/include", "/usr/local/opt/openblas/include"],
          "libraries": ["-L/opt/homebrew/opt/openblas/lib", "-L/usr/local/opt/openblas/lib"],
          "xcode_settings": { "GCC_OPTIMIZATION_LEVEL": "3", "OTHER_CFLAGS": ["-fopenmp-simd"] }
        }]
      ]
    }
  ]
}
