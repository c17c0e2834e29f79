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

# The columns of each group: name -> (numpy dtype, end-offset column, or None for one element a
# row). A variable-length column's row i spans [end[i-1], end[i]) of its flat data (0 for i = 0).
# From trajectory/record.h (`iranker inspect --schema python`; a test checks that it is current):
# schema:begin
COLUMNS = {
    "steps": {
        "episode_id": ("uint64", None),
        "step": ("int32", None),
        "pool_size": ("int32", None),
        "query_id": ("uint8", "query_end"),
        "dataset": ("uint8", "dataset_end"),
        "actor_id": ("int32", None),
        "policy_version": ("uint64", None),
        "seed": ("uint64", None),
        "group_id": ("uint64", None),
        "prompt_ids": ("int32", "prompt_end"),
        "response_ids": ("int32", "response_end"),
        "logprobs": ("float32", "response_end"),
        "alternatives": ("int32", "alternatives_end"),
        "reward": ("float32", None),
        "reward_answer": ("float32", None),
        "reward_format": ("float32", None),
        "reward_tags": ("float32", None),
        "answer_text": ("uint8", "answer_end"),
        "chosen": ("int32", None),
        "valid_format": ("uint8", None),
        "episode_done": ("uint8", None),
    },
    "episodes": {
        "episode_id": ("uint64", None),
        "query_id": ("uint8", "query_end"),
        "dataset": ("uint8", "dataset_end"),
        "actor_id": ("int32", None),
        "policy_version": ("uint64", None),
        "ranking": ("int32", "ranking_end"),
        "mrr": ("float32", None),
        "ndcg10": ("float32", None),
        "hit1": ("float32", None),
        "num_steps": ("int32", None),
        "fallbacks": ("int32", None),
    },
}
# schema:end


def ragged(group, name, i):
    """Row i of the variable-length column `name` of `group` ("steps" or "episodes")."""
    end = COLUMNS[group.name.strip("/")][name][1]
    e = group[end]
    start = 0 if i == 0 else int(e[i - 1])
    return group[name][start:int(e[i])]


def row_count(group):
    """Rows every one-element-a-row column holds (the writer extends them one by one)."""
    cols = COLUMNS[group.name.strip("/")]
    per_row = [c for c, (_, end) in cols.items() if end is None] + sorted({e for _, e in cols.values() if e})
    return min(len(group[c]) for c in per_row)


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
        n = row_count(s)
        cols = {c: s[c][:n] for c, (_, end) in COLUMNS["steps"].items() if end is None}
        print(f"{n} steps, {row_count(f['episodes'])} episodes")
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
            found = np.nonzero(cols["episode_id"] == a.episode)[0]
            if len(found) == 0:
                sys.exit(f"episode {a.episode} is not in {a.path}")
            for i in found:
                prompt = ragged(s, "prompt_ids", i)
                response = ragged(s, "response_ids", i)
                logp = ragged(s, "logprobs", i)
                answer = bytes(ragged(s, "answer_text", i)).decode()
                print(f"step {cols['step'][i]}: pool {cols['pool_size'][i]}, {len(prompt)} prompt tokens, "
                      f"response {response.tolist()} (logprobs {np.round(logp, 3).tolist()}), "
                      f"answer {answer!r}, reward {cols['reward'][i]:.3f}")


if __name__ == "__main__":
    main()
