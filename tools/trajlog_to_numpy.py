#!/usr/bin/python3
"""Loads an iranker trajectory log (HDF5, docs/TRAJLOG.md) into numpy arrays with h5py.

    /usr/bin/python3 tools/trajlog_to_numpy.py runs/quickstart/trajectories.h5 [--episode ID]

Prints the file's attributes, the per-step columns and a reward summary by policy version; with
--episode, that episode's steps (token ids; decode them with `iranker inspect --episode`).
Ragged columns (token ids, texts) are flat arrays with cumulative end offsets: row i spans
[end[i-1], end[i]) (0 for i = 0). The file may be open for writing (SWMR): it is opened with
swmr=True, so this works while training runs.
"""
import argparse
import sys

import h5py
import numpy as np


def ragged(group, data, end, i):
    e = group[end]
    start = 0 if i == 0 else int(e[i - 1])
    return group[data][start:int(e[i])]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--episode", type=int)
    a = ap.parse_args()
    with h5py.File(a.path, "r", swmr=True, libver="latest") as f:
        for k, v in f.attrs.items():
            v = v.decode() if isinstance(v, bytes) else str(v)
            print(f"attr {k}: {v[:80]}{'...' if len(v) > 80 else ''}")
        s = f["steps"]
        # A row counts once every column holds it (the writer extends columns one by one).
        n = min(len(s[c]) for c in ("episode_id", "reward", "policy_version", "prompt_end", "response_end"))
        cols = {c: s[c][:n] for c in ("episode_id", "step", "pool_size", "actor_id", "policy_version",
                                       "reward", "valid_format", "chosen")}
        print(f"{n} steps, {len(f['episodes']['episode_id'])} episodes")
        for c, v in cols.items():
            print(f"  steps/{c}: {v.dtype} shape {v.shape}")
        versions = cols["policy_version"]
        if n:
            edges = np.linspace(versions.min(), versions.max() + 1, num=min(10, len(np.unique(versions))) + 1)
            for lo, hi in zip(edges[:-1], edges[1:]):
                m = (versions >= lo) & (versions < hi)
                if m.any():
                    print(f"  versions [{int(lo)}, {int(hi)}): reward {cols['reward'][m].mean():.4f} "
                          f"valid {cols['valid_format'][m].mean():.3f} ({m.sum()} steps)")
        if a.episode is not None:
            rows = np.nonzero(cols["episode_id"] == a.episode)[0]
            if len(rows) == 0:
                sys.exit(f"episode {a.episode} is not in {a.path}")
            for i in rows:
                prompt = ragged(s, "prompt_ids", "prompt_end", i)
                response = ragged(s, "response_ids", "response_end", i)
                logp = ragged(s, "logprobs", "response_end", i)
                answer = bytes(ragged(s, "answer_text", "answer_end", i)).decode()
                print(f"step {cols['step'][i]}: pool {cols['pool_size'][i]}, {len(prompt)} prompt tokens, "
                      f"response {response.tolist()} (logprobs {np.round(logp, 3).tolist()}), "
                      f"answer {answer!r}, reward {cols['reward'][i]:.3f}")


if __name__ == "__main__":
    main()
