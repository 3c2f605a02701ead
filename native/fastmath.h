/*
 * fastmath.h: fexp, the branch-free float e^x the activations (elu, silu) use, so their loops
 * vectorise; and HOT, the attribute that gives the hottest loops an AVX2 clone.
 */
#ifndef PDIFF_FASTMATH_H
#define PDIFF_FASTMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && \
    defined(__GLIBC__) && !defined(PDIFF_NO_CLONES)
/* The hot loops also get an x86-64-v3 (AVX2 + FMA) build, picked at load time (glibc ifunc).
 * Build with -DPDIFF_NO_CLONES for the baseline build alone. */
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

static inline float f_from_bits(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}
static inline int32_t bits_from_f(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}

/* e^x in float to ~1 ulp (Cephes expf polynomial, Cody-Waite reduction), branch-free so loops
 * vectorise. NaN stays NaN; x above 88 gives e^88, x below -87.3 about 1e-38. */
static inline float fexp(float x) {
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.33654f ? -87.33654f : x;
  float t = x * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5 * 2^23 */
  float fn = t - 12582912.0f;
  int32_t ni = bits_from_f(t) - 0x4B400000;
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  return p * f_from_bits((ni + 127) << 23);
}

#endif
