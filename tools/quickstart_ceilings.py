#!/usr/bin/python3
"""What reading buys on the quickstart data: held-out MRR of rankers that use one feature each.

    /usr/bin/python3 tools/quickstart_ceilings.py data/quickstart/train.jsonl data/quickstart/test.jsonl

The quickstart's items are titled "Words (YEAR; Genre)" (data/README.md). Each ranker below orders
a test query's candidates by one feature of that text, ties broken at random (the mean over
--trials draws), so the rows say how far a policy gets with each thing it might learn:

  popularity prior      P(positive | genre) estimated on the training file: no reading at all
  genre in history      whether the candidate's genre occurs in the history, then the prior
  genre count           how often the candidate's genre occurs in the history
  genre, then era       genre count, then how often its decade occurs in the history

The scenario's generator draws the positive from the user's preferred genre and era, so the last
row is near 1. The script reads only the JSONL files; it is a measuring aid, not part of training.
"""
import argparse
import collections
import json
import random
import re

TITLE = re.compile(r"\((\d{3})\d; ([^)]+)\)\s*$")


def features(text, where):
    m = TITLE.search(text)
    if not m:
        raise SystemExit(f"{where}: item text {text!r} does not end in '(YEAR; Genre)'")
    return m.group(2), m.group(1)


def read(path):
    records = []
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        where = f"{path}:{no}"
        if "positive" not in r or "history" not in r:
            raise SystemExit(f"{where}: not a recommendation record with 'history' and 'positive'")
        r["_cands"] = [features(c["text"], where) for c in r["candidates"]]
        r["_hist"] = [features(h, where) for h in r["history"]]
        records.append(r)
    return records


def mrr(records, score, trials):
    total = 0.0
    for t in range(trials):
        rng = random.Random(t)
        for r in records:
            genres = collections.Counter(g for g, _ in r["_hist"])
            eras = collections.Counter(e for _, e in r["_hist"])
            keyed = [(score(c, genres, eras), rng.random(), i) for i, c in enumerate(r["_cands"])]
            order = [i for *_, i in sorted(keyed, reverse=True)]
            total += 1.0 / (order.index(r["positive"]) + 1)
    return total / (trials * len(records))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--trials", type=int, default=50)
    a = ap.parse_args()
    train, test = read(a.train), read(a.test)
    pos, seen = collections.Counter(), collections.Counter()
    for r in train:
        for i, (g, _) in enumerate(r["_cands"]):
            seen[g] += 1
            pos[g] += i == r["positive"]
    prior = {g: pos[g] / seen[g] for g in seen}
    p = lambda g: prior.get(g, 0.0)
    rows = [
        ("random", lambda c, gs, es: 0),
        ("popularity prior", lambda c, gs, es: p(c[0])),
        ("genre in history", lambda c, gs, es: (gs[c[0]] > 0, p(c[0]))),
        ("genre count", lambda c, gs, es: gs[c[0]]),
        ("genre, then era", lambda c, gs, es: (gs[c[0]], es[c[1]])),
    ]
    print(f"{len(test)} queries of {a.test}, ties drawn {a.trials} times")
    print(f"{'ranker':<20} {'MRR':>6}")
    for name, score in rows:
        print(f"{name:<20} {mrr(test, score, a.trials):6.3f}")


if __name__ == "__main__":
    main()
