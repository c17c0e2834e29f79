#!/usr/bin/python3
"""The malformed-input corpus: every case feeds iranker one bad input and checks the outcome.

usage: check_malformed.py IRANKER SOURCE_DIR WORK_DIR [--only SUBSTRING]

tests/malformed/cases.txt lists the cases (blank-line separated):
  case: <name>
  run: <bash>            one command, run from SOURCE_DIR with IRANKER, SRC, M (this corpus), W (WORK_DIR)
  exit: <codes>          accepted exit codes (default "1 2": an error, not a crash)
  expect: <regex>        the output (stdout + stderr) must match (several allowed)
  unchanged: <path>      a file or directory that must be byte-identical before and after
  absent: <path>         a path that must not exist afterwards (no partial output presented)
Every case must also end within 120 s (no hang), not by a signal (no crash), with
"iranker: error:" or a recorded failure in its output. The corpus files live next to this
script; inputs that must be made by iranker itself (a checkpoint, an HDF5 log) are generated
into WORK_DIR first and corrupted there (see make_inputs).
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time


def sh(cmd, env, cwd):
    p = subprocess.run(["bash", "-c", cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit(f"setup failed: {cmd}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")


def safetensors_parts(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(path, header, body):
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)


def make_inputs(env, src, w):
    """A tiny checkpoint and a real HDF5 log, then corrupted copies of both."""
    iranker = env["IRANKER"]
    sh(f"{iranker} init-model --preset tiny --out {w}/ckpt --tokenizer data/tokenizer/quickstart/tokenizer.json", env, src)

    def variant(name, fn):
        d = f"{w}/{name}"
        shutil.copytree(f"{w}/ckpt", d)
        fn(d)

    def edit_config(d, **kv):
        c = json.load(open(f"{d}/config.json"))
        c.update(kv)
        json.dump(c, open(f"{d}/config.json", "w"))

    st = "model.safetensors"
    variant("ckpt_no_config", lambda d: os.remove(f"{d}/config.json"))
    variant("ckpt_config_not_json", lambda d: open(f"{d}/config.json", "w").write("{\"hidden_size\": 64,"))
    variant("ckpt_config_bad_type", lambda d: edit_config(d, hidden_size="big"))
    variant("ckpt_config_zero_layers", lambda d: edit_config(d, num_hidden_layers=0))
    variant("ckpt_config_heads_mismatch", lambda d: edit_config(d, num_attention_heads=3))
    variant("ckpt_shape_mismatch", lambda d: edit_config(d, intermediate_size=200))
    variant("ckpt_no_weights", lambda d: os.remove(f"{d}/{st}"))
    variant("ckpt_no_tokenizer", lambda d: (os.remove(f"{d}/tokenizer.json"), os.remove(f"{d}/tokenizer_config.json")))

    def truncate(d, frac=0.5):
        b = open(f"{d}/{st}", "rb").read()
        open(f"{d}/{st}", "wb").write(b[: int(len(b) * frac)])
    variant("ckpt_st_truncated", truncate)
    variant("ckpt_st_empty", lambda d: open(f"{d}/{st}", "wb").close())

    def huge_header(d):
        b = bytearray(open(f"{d}/{st}", "rb").read())
        b[:8] = struct.pack("<Q", 1 << 60)
        open(f"{d}/{st}", "wb").write(bytes(b))
    variant("ckpt_st_header_length", huge_header)

    def garbage_header(d):
        b = bytearray(open(f"{d}/{st}", "rb").read())
        n = struct.unpack("<Q", b[:8])[0]
        b[8:8 + n] = b"\x00\xff" * (n // 2) + b"\x00" * (n % 2)
        open(f"{d}/{st}", "wb").write(bytes(b))
    variant("ckpt_st_header_garbage", garbage_header)

    def offsets_out_of_range(d):
        h, body = safetensors_parts(f"{d}/{st}")
        k = next(k for k in h if k != "__metadata__")
        h[k]["data_offsets"] = [0, len(body) * 4]
        write_safetensors(f"{d}/{st}", h, body)
    variant("ckpt_st_offsets", offsets_out_of_range)

    def missing_tensor(d):
        h, body = safetensors_parts(f"{d}/{st}")
        del h["model.norm.weight"]
        write_safetensors(f"{d}/{st}", h, body)
    variant("ckpt_st_missing_tensor", missing_tensor)

    def bad_dtype(d):
        h, body = safetensors_parts(f"{d}/{st}")
        h["model.norm.weight"]["dtype"] = "Q7"
        write_safetensors(f"{d}/{st}", h, body)
    variant("ckpt_st_bad_dtype", bad_dtype)

    def shape_vs_bytes(d):
        h, body = safetensors_parts(f"{d}/{st}")
        h["model.norm.weight"]["shape"] = [h["model.norm.weight"]["shape"][0] * 2]
        write_safetensors(f"{d}/{st}", h, body)
    variant("ckpt_st_shape_bytes", shape_vs_bytes)

    # A real HDF5 trajectory log: one step of the quickstart, in one process.
    sh(f"{iranker} train --local -c configs/quickstart.yaml run.dir={w}/run train.steps=1 train.actors=1 "
       f"train.eval_every=0 run.log_level=warn", env, src)
    log = f"{w}/run/trajectories.h5"
    b = open(log, "rb").read()
    open(f"{w}/log_truncated.h5", "wb").write(b[: len(b) // 2])
    open(f"{w}/log_header_only.h5", "wb").write(b[:512])
    # Valid HDF5, but not a trajectory log / a log missing one column (h5py from Debian).
    sh(f"""/usr/bin/python3 - <<'PY'
import h5py, shutil
with h5py.File("{w}/not_a_log.h5", "w") as f:
    f["x"] = [1, 2, 3]
shutil.copy("{log}", "{w}/log_missing_column.h5")
with h5py.File("{w}/log_missing_column.h5", "a") as f:
    names = []
    f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
    victim = [n for n in names if "logprob" in n] or names
    del f[victim[0]]
PY""", env, src)
    # A run whose newest checkpoint was damaged after it was written (bit rot, a bad copy).
    shutil.copytree(f"{w}/run", f"{w}/run_damaged")
    ck = f"{w}/run_damaged/checkpoints/step-00000001/{st}"
    b = open(ck, "rb").read()
    open(ck, "wb").write(b[: len(b) // 3])
    # Things that must survive a refused command untouched.
    os.makedirs(f"{w}/occupied", exist_ok=True)
    open(f"{w}/occupied/keep.txt", "w").write("precious\n")
    sh(f"{iranker} keygen --name learner --dir {w}/keys", env, src)


def read_cases(path):
    cases, cur = [], None
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "case":
            cur = {"name": value, "line": no}
            cases.append(cur)
        elif cur is None or key not in ("run", "exit", "expect", "unchanged", "absent"):
            raise SystemExit(f"{path}:{no}: unexpected {line!r}")
        elif key == "run":
            if "run" in cur:
                raise SystemExit(f"{path}:{no}: one run: per case")
            cur["run"] = value
        elif key == "exit":
            cur["exit"] = [int(x) for x in value.split()]
        else:
            cur.setdefault(key, []).append(value)
    for c in cases:
        if "run" not in c:
            raise SystemExit(f"{path}:{c['line']}: case {c['name']} has no run:")
    return cases


def digest(path):
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in sorted(os.walk(path)):
            dirs.sort()
            for f in sorted(files):
                h.update(f.encode())
                h.update(open(os.path.join(root, f), "rb").read())
    elif os.path.exists(path):
        h.update(open(path, "rb").read())
    else:
        return None
    return h.hexdigest()


def main(argv):
    if len(argv) < 4:
        print(__doc__)
        return 2
    iranker, src, work = os.path.abspath(argv[1]), os.path.abspath(argv[2]), os.path.abspath(argv[3])
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    corpus = os.path.join(src, "tests/malformed")
    env = dict(os.environ, IRANKER=iranker, SRC=src, M=corpus, W=work, OMP_WAIT_POLICY="PASSIVE",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cases = [c for c in read_cases(os.path.join(corpus, "cases.txt")) if not only or only in c["name"]]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    t0 = time.time()
    make_inputs(env, src, work)
    print(f"inputs made in {time.time() - t0:.1f} s")
    failures = 0
    for c in cases:
        expand = lambda p: p.replace("$W", work).replace("$M", corpus).replace("$SRC", src)
        before = {p: digest(expand(p)) for p in c.get("unchanged", [])}
        start = time.time()
        try:
            p = subprocess.run(["bash", "-c", c["run"]], env=env, cwd=src, capture_output=True, text=True,
                               timeout=120, errors="replace")
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = None, f"(no exit within 120 s: a hang)\n{e.stdout or ''}{e.stderr or ''}"
        problems = []
        if rc is None:
            problems.append("hung")
        elif rc < 0 or rc >= 128:
            problems.append(f"ended by a signal (exit {rc}): a crash")
        elif rc not in c.get("exit", [1, 2]):
            problems.append(f"exit {rc}, expected one of {c.get('exit', [1, 2])}")
        if rc not in (None, 0) and "error" not in out.lower():
            problems.append("no error message")
        for rx in c.get("expect", []):
            if not re.search(rx, out, re.M):
                problems.append(f"output does not match /{rx}/")
        for path, d in before.items():
            if digest(expand(path)) != d:
                problems.append(f"{path} changed")
        for path in c.get("absent", []):
            if os.path.exists(expand(path)):
                problems.append(f"{path} exists")
        first = next((l for l in out.splitlines() if "error" in l.lower()), out.strip().splitlines()[-1:] or [""])
        first = first if isinstance(first, str) else first[0]
        print(f"{'ok  ' if not problems else 'FAIL'} {time.time() - start:5.1f} s  {c['name']:32s} "
              f"exit {rc}: {first[:150]}", flush=True)
        if problems:
            failures += 1
            print("  " + "; ".join(problems) + f"\n  run: {c['run']}\n  output (last 1500 characters):\n{out[-1500:]}")
    print(f"malformed inputs: {len(cases)} cases, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
