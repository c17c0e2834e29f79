#!/usr/bin/python3
"""Reference for `iranker bench matmul`: numpy fp32 matmul GFLOP/s (median of repeats)."""
import os
import sys

n, threads, warmup, repeats = (int(x) for x in sys.argv[1:5])
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)
import time  # noqa: E402

import numpy as np  # noqa: E402

rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.empty((n, n), dtype=np.float32)
inner = max(1, (1 << 31) // (n * n * n))
times = []
for i in range(warmup + repeats):
    t0 = time.perf_counter()
    for _ in range(inner):
        np.matmul(a, b, out=c)
    if i >= warmup:
        times.append(time.perf_counter() - t0)
times.sort()
k = len(times)
med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
print(2.0 * n * n * n * inner / med / 1e9)
