#!/usr/bin/python3
"""The docs check: every command the documentation shows is executed, and every file it names exists.

usage: check_docs.py SOURCE_DIR coverage
       check_docs.py SOURCE_DIR run IRANKER_BINARY WORK_DIR [--only SUBSTRING]

Commands are the lines of ```sh blocks and the inline `code` spans that start like a command
(build/bin/iranker, iranker, scripts/, cluster/, mpirun, srun, sbatch, tensorboard, ctest) in the
repository's Markdown files. tests/docs/commands.txt says, for each, how it is checked:

  doc: <the command exactly as shown, without its trailing # comment>
  run: <bash>          executed in order by `run` (several run: lines allowed); must exit 0;
                       {doc} stands for the command itself with build/bin/iranker or iranker
                       replaced by $IRANKER and mpirun by $MPIRUN
  expect: <regex>      the output of the entry's run: lines must match (several allowed)
  test: <ctest name>   executed by that CTest test; `coverage` checks that ctest lists it
  in: <file> <regex>   ... and that the file (relative to the source tree) contains the regex
  ci: <why>            executed by CI itself (e.g. scripts/test.sh is what .ci/run runs)
  manual: <file>       needs what CI lacks (Slurm daemons, a GPU); the file that runs it must exist
  mention: <why>       a program or subcommand named in prose, not a command line to run

`coverage` fails on a command without an entry, an entry whose command the docs no longer show,
a test: that ctest does not list, an in: pattern that is absent, a manual: file that is missing, and
a repository file named in the docs (`dir/file.ext`) that does not exist. `run` executes the run:
entries (WORK emptied first, unless --only) with IRANKER (the binary), SRC, WORK and MPIRUN ("mpirun --oversubscribe -x
OMP_WAIT_POLICY") in the environment, from SRC, and stops at the first failure with its output.
"""
import os
import re
import shutil
import subprocess
import sys
import time

PREFIXES = ("build/bin/iranker", "iranker ", "scripts/", "cluster/", "mpirun", "srun", "sbatch",
            "tensorboard", "ctest", "cd build", "LEARNERS=")
KINDS = ("run", "expect", "test", "in", "ci", "manual", "mention")
# Paths under these are produced by a build, a run or set-up, not kept in the repository.
GENERATED = ("build/", "runs/", "third_party/", "RUN/", "RUN_DIR")
PATH_RE = re.compile(r"^[A-Za-z0-9_.\-/]+\.(h|cc|sh|py|mjs|yaml|yml|md|json|jsonl|sbatch|txt|cmake|csv|png)$")


def markdown_files(src):
    out = subprocess.run(["git", "-C", src, "ls-files", "*.md"], capture_output=True, text=True)
    files = out.stdout.split() if out.returncode == 0 else []
    if not files:  # not a git checkout (a source tarball): walk the tree instead
        for root, dirs, names in os.walk(src):
            dirs[:] = [d for d in dirs if d not in (".git", "build", "third_party", "runs")]
            files += [os.path.relpath(os.path.join(root, n), src) for n in names if n.endswith(".md")]
    return sorted(files)


def extract(src):
    """Returns (commands, paths): {command: [where...]}, [(path, where, md_dir)]."""
    commands, paths = {}, []
    for md in markdown_files(src):
        lines = open(os.path.join(src, md), encoding="utf-8").read().split("\n")
        fence = None
        pending = ""
        for no, line in enumerate(lines, 1):
            where = f"{md}:{no}"
            stripped = line.strip()
            if stripped.startswith("```"):
                fence = None if fence is not None else stripped[3:].strip()
                continue
            if fence in ("sh", "bash", "console"):
                text = pending + re.sub(r"\s+#.*$", "", stripped)
                if text.endswith("\\"):
                    pending = text[:-1] + " "
                    continue
                pending = ""
                if text and not text.startswith("#"):
                    commands.setdefault(text, []).append(where)
                continue
            if fence is not None:
                continue
            for span in re.findall(r"`([^`\n]+)`", line):
                span = span.strip()
                if span.startswith(PREFIXES):
                    commands.setdefault(span, []).append(where)
                if PATH_RE.match(span) and "/" in span and not span.startswith(GENERATED):
                    paths.append((span, where, os.path.dirname(md)))
    return commands, paths


def read_manifest(src):
    path = os.path.join(src, "tests/docs/commands.txt")
    entries, current = [], None
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or (key != "doc" and key not in KINDS):
            raise SystemExit(f"{path}:{no}: expected 'doc:' or one of {', '.join(KINDS)}, got {line!r}")
        if key == "doc":
            current = {"doc": value, "line": no}
            entries.append(current)
            continue
        if current is None:
            raise SystemExit(f"{path}:{no}: '{key}:' before the first 'doc:'")
        current.setdefault(key, []).append(value)
    for e in entries:
        if not any(k in e for k in ("run", "test", "ci", "manual", "mention")):
            raise SystemExit(f"{path}:{e['line']}: '{e['doc']}' says neither run, test, ci, manual nor mention")
    return entries


def ctest_names(src):
    build = os.environ.get("IRANKER_BUILD_DIR", os.path.join(src, "build"))
    out = subprocess.run(["ctest", "-N"], cwd=build, capture_output=True, text=True)
    names = set(re.findall(r"Test\s+#\d+:\s+(\S+)", out.stdout))
    if not names:
        raise SystemExit(f"ctest -N in {build} listed no tests (set IRANKER_BUILD_DIR)")
    return names


def coverage(src):
    commands, paths = extract(src)
    entries = read_manifest(src)
    by_doc = {}
    problems = []
    for e in entries:
        if e["doc"] in by_doc:
            problems.append(f"commands.txt:{e['line']}: '{e['doc']}' has two entries")
        by_doc[e["doc"]] = e
    for cmd, where in sorted(commands.items()):
        if cmd not in by_doc:
            problems.append(f"{where[0]}: `{cmd}` is shown but tests/docs/commands.txt does not say how it is checked")
    for doc, e in by_doc.items():
        if doc not in commands:
            problems.append(f"commands.txt:{e['line']}: '{doc}' is no longer shown in the docs (remove the entry)")
    names = ctest_names(src) if any("test" in e for e in entries) else set()
    for e in entries:
        for t in e.get("test", []):
            if t not in names:
                problems.append(f"commands.txt:{e['line']}: test '{t}' is not a CTest test")
        for spec in e.get("in", []):
            f, _, pattern = spec.partition(" ")
            p = os.path.join(src, f)
            if not os.path.isfile(p):
                problems.append(f"commands.txt:{e['line']}: in: {f} does not exist")
            elif not re.search(pattern, open(p, encoding="utf-8").read()):
                problems.append(f"commands.txt:{e['line']}: in: {f} does not contain /{pattern}/")
        for f in e.get("manual", []):
            if not os.path.isfile(os.path.join(src, f.split()[0])):
                problems.append(f"commands.txt:{e['line']}: manual: {f.split()[0]} does not exist")
    for path, where, md_dir in paths:
        # `name.h/.cc` names a header and its source file.
        names = [path[:-4], path[:-6] + ".cc"] if path.endswith(".h/.cc") else [path]
        for name in names:
            if not (os.path.exists(os.path.join(src, name)) or os.path.exists(os.path.join(src, md_dir, name))):
                problems.append(f"{where}: names `{name}`, which does not exist")
    kinds = {}
    for e in entries:
        k = next(k for k in ("run", "test", "ci", "manual", "mention") if k in e)
        kinds[k] = kinds.get(k, 0) + 1
    print(f"docs: {len(commands)} commands shown, {len(paths)} file names; entries: "
          + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    for e in entries:
        if "manual" in e:
            print(f"  manual (not run by CI): {e['doc']}  <- {e['manual'][0]}")
    if problems:
        print("\n".join(problems))
        print(f"docs check: {len(problems)} problem(s)")
        return 1
    print("docs check: every command shown is covered; every file named exists")
    return 0


def as_run(doc):
    """The doc command with the binary and mpirun replaced by the environment's."""
    words = []
    for w in doc.split(" "):
        if w in ("build/bin/iranker", "iranker"):
            w = "$IRANKER"
        elif w == "mpirun" and not words:
            w = "$MPIRUN"
        words.append(w)
    return " ".join(words)


def run(src, binary, work, only):
    entries = [e for e in read_manifest(src) if "run" in e and (not only or only in e["doc"])]
    if not only:  # a full check starts from an empty work directory (a run there would resume)
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "IRANKER": os.path.abspath(binary), "SRC": src, "WORK": os.path.abspath(work),
        "MPIRUN": "mpirun --oversubscribe -x OMP_WAIT_POLICY",
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMP_WAIT_POLICY": "PASSIVE",
        "IRANKER_BUILD_DIR": os.path.dirname(os.path.dirname(os.path.abspath(binary))),
    })
    failed = 0
    for e in entries:
        script = "set -euo pipefail\n" + "\n".join(r.replace("{doc}", as_run(e["doc"])) for r in e["run"])
        start = time.time()
        p = subprocess.run(["bash", "-c", script], cwd=src, env=env, capture_output=True, text=True,
                           timeout=600)
        out = p.stdout + p.stderr
        missing = [rx for rx in e.get("expect", []) if not re.search(rx, out, re.M)]
        ok = p.returncode == 0 and not missing
        print(f"{'ok  ' if ok else 'FAIL'} {time.time() - start:6.1f} s  {e['doc']}", flush=True)
        if not ok:
            failed += 1
            print(f"  exit {p.returncode}; run:\n    " + "\n    ".join(e["run"]))
            for rx in missing:
                print(f"  output does not match /{rx}/")
            print("  output (last 3000 characters):\n" + out[-3000:])
            break
    print(f"docs commands: {len(entries)} entries with run:, {failed} failed")
    return 1 if failed else 0


def main(argv):
    if len(argv) < 3 or argv[2] not in ("coverage", "run"):
        print(__doc__)
        return 2
    src = os.path.abspath(argv[1])
    if argv[2] == "coverage":
        return coverage(src)
    if len(argv) < 5:
        print(__doc__)
        return 2
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    return run(src, argv[3], argv[4], only)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
