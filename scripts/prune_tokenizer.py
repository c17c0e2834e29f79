#!/usr/bin/python3
"""Prunes a byte-level BPE tokenizer.json (e.g. Qwen's) to the tokens a corpus needs.

The pruned tokenizer keeps every token the original produces on the corpus, every token those are
merged from (recursively), all 256 byte symbols and the chat special tokens. It therefore encodes
the corpus into exactly the same token strings as the original, and any other text still encodes
(into smaller pieces). Ids are renumbered densely, so a tiny model trained with it carries a
vocabulary of a few thousand rows instead of 151k: the quickstart uses this for a small policy
that reads words, not bytes.

usage: prune_tokenizer.py --tokenizer T.json --iranker BIN --out OUT.json CORPUS...
CORPUS files are ranking JSONL (every string in every record is used, in the contexts prompts
show them) or plain text (prompt templates).
"""
import argparse
import json
import os
import subprocess
import sys

KEEP_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]


def strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from strings(v)


def corpus_texts(paths):
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            if path.endswith(".jsonl"):
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    for s in strings(json.loads(line)):
                        # The contexts a prompt and an answer put a text in.
                        out += [s, "- " + s, "1. " + s, "<answer> " + s + "</answer>", "\n" + s + "\n"]
            else:
                out.append(f.read())
    return out


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--iranker", required=True, help="the iranker binary (its tokenize command encodes)")
    ap.add_argument("--out", required=True)
    ap.add_argument("corpus", nargs="+")
    a = ap.parse_args()

    with open(a.tokenizer, encoding="utf-8") as f:
        tok = json.load(f)
    model = tok["model"]
    if model.get("type") != "BPE":
        sys.exit(f"{a.tokenizer}: not a BPE tokenizer")
    vocab = model["vocab"]
    id_to_tok = {i: t for t, i in vocab.items()}
    merges = [m if isinstance(m, list) else m.split(" ", 1) for m in model["merges"]]
    made_from = {}
    for l, r in merges:
        made_from.setdefault(l + r, (l, r))

    texts = corpus_texts(a.corpus)
    payload = "\0".join(texts).encode("utf-8")
    res = subprocess.run([a.iranker, "tokenize", "--tokenizer", a.tokenizer, "-z", "--plain-special"],
                         input=payload, capture_output=True, check=True)
    used = set()
    for t in res.stdout.decode().replace("\0", " ").split():
        used.add(int(t))
    keep = set(bytes_to_unicode())
    stack = [id_to_tok[i] for i in used if i in id_to_tok]
    while stack:
        t = stack.pop()
        if t in keep:
            continue
        keep.add(t)
        if t in made_from:
            stack.extend(made_from[t])
    missing = [t for t in keep if t not in vocab]
    if missing:
        sys.exit(f"internal error: {len(missing)} kept tokens are not in the vocabulary")

    ordered = sorted(keep, key=lambda t: vocab[t])
    new_vocab = {t: i for i, t in enumerate(ordered)}
    new_merges = [[l, r] for l, r in merges if l in keep and r in keep and (l + r) in keep]
    added = []
    next_id = len(new_vocab)
    for at in tok["added_tokens"]:
        if at["content"] in KEEP_SPECIAL:
            at = dict(at)
            at["id"] = next_id
            next_id += 1
            added.append(at)

    out = dict(tok)
    out["added_tokens"] = added
    out["model"] = dict(model)
    out["model"]["vocab"] = new_vocab
    out["model"]["merges"] = new_merges
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(new_vocab)} tokens + {len(added)} special, {len(new_merges)} merges "
          f"(from {len(vocab)} / {len(merges)}; corpus used {len(used)} distinct tokens)")


if __name__ == "__main__":
    main()
