# Builds native/build/Release/pdiff_blas.node: a thin N-API wrapper around OpenBLAS cblas_sgemm.
# Plain C against node_api.h (no node-addon-api). `npm install` runs `node-gyp rebuild --directory native`;
# a failed build is not fatal (pdiff falls back to its pure-TS js backend).
{
  "targets": [
    {
      "target_name": "pdiff_blas",
      "sources": ["pdiff_blas.c"],
      "defines": ["NAPI_VERSION=8"],
      # Debian/Ubuntu keep cblas.h on the default multiarch path; Fedora/RHEL under /usr/include/openblas.
      "include_dirs": ["/usr/include/openblas"],
      "libraries": ["-lopenblas"],
      # node's common.gypi builds Release with -O3; the wrapper does no arithmetic of its own, so -O2.
      "cflags!": ["-O3"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='mac'", {
          "include_dirs": ["/opt/homebrew/opt/openblas/include", "/usr/local/opt/openblas/include"],
          "libraries": ["-L/opt/homebrew/opt/openblas/lib", "-L/usr/local/opt/openblas/lib"],
          "xcode_settings": { "GCC_OPTIMIZATION_LEVEL": "2" }
        }]
      ]
    }
  ]
}
