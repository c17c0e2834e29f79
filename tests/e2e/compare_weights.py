"""Compares two runs' fp32 model.safetensors (the e2e scripts' equivalence checks).

usage: compare_weights.py INIT A B TOLERANCE LABEL
Prints max |A - B| and max |A - INIT|; fails unless A trained (an update above 1e-4) and B is
within TOLERANCE of A in every element. Reads the format directly (8-byte header length, JSON
header, raw little-endian data) so the checks need only numpy.
"""
import json
import struct
import sys

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}, expected F32"
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=np.float32)
    return out


def main():
    init_path, a_path, b_path, tol, label = sys.argv[1:6]
    init, a, b = load(init_path), load(a_path), load(b_path)
    assert a.keys() == b.keys() == init.keys(), "the checkpoints hold different tensors"
    diff = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    update = max(float(np.abs(a[k] - init[k]).max()) for k in a)
    print(f"max |{label}| = {diff:.3g}; max |update| = {update:.3g}")
    assert update > 1e-4, "the run did not train"
    assert diff < float(tol), f"{label}: {diff:.3g} exceeds {tol}"


if __name__ == "__main__":
    main()
