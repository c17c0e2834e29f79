#!/usr/bin/env bash
# CTest cli.generate: `iranker generate` on a tiny checkpoint with the quickstart's (Qwen) tokenizer.
# Its --logits-out rows are the next-token logits of the independent transformers-style reference
# (bench/reference/hf_qwen2.py) at the same positions (max |diff| < 1e-4), greedy picks each row's
# argmax, stdout is the generated ids' text, --ids gives what the same prompt as text gives, a
# seeded sample repeats, and bad inputs are refused with the file, line or option named.
# usage: generate.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
iranker=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$src"
/usr/bin/python3 -c 'import torch, numpy' 2> /dev/null || { echo "python3-torch missing: skipped"; exit 77; }
"$iranker" init-model --preset tiny --tokenizer data/tokenizer/quickstart/tokenizer.json --seed 3 \
  --out "$work/ckpt" > /dev/null
prompt=$'<|im_start|>user\nHistory:\nCanyon Gunslinger Protocol (2016; Western)<|im_end|>\n<|im_start|>assistant\n'
gen=("$iranker" generate --checkpoint "$work/ckpt" --threads 1 --max-new-tokens 8)
"${gen[@]}" --prompt "$prompt" --logits-out "$work/logits.json" > "$work/text.txt" 2> "$work/err.txt"
grep -q "prompt tokens, [1-8] generated" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
/usr/bin/python3 - "$work" "$src" "$iranker" <<'PY'
import json, subprocess, sys
work, src, iranker = sys.argv[1:4]
j = json.load(open(f"{work}/logits.json"))
prompt, gen, rows = j["prompt_ids"], j["generated_ids"], j["logits"]
assert len(gen) == len(rows) >= 1 and j["finish"] in ("stop", "length"), (len(gen), len(rows))
assert len(gen) == 8 if j["finish"] == "length" else len(gen) <= 8, (j["finish"], len(gen))
json.dump(prompt + gen, open(f"{work}/ids.json", "w"))
ref = json.loads(subprocess.check_output(["/usr/bin/python3", f"{src}/bench/reference/hf_qwen2.py",
                                          "logits", f"{work}/ckpt", f"{work}/ids.json"]))
P = len(prompt)
diff = max(abs(a - b) for i, row in enumerate(rows) for a, b in zip(row, ref[P - 1 + i]))
assert all(len(row) == len(ref[0]) for row in rows)
assert diff < 1e-4, f"max |logit diff| vs the reference {diff}"
for i, row in enumerate(rows):
    assert gen[i] == max(range(len(row)), key=row.__getitem__), f"token {i} is not the argmax"
text = subprocess.run([iranker, "tokenize", "--decode", "--tokenizer", f"{work}/ckpt"],
                      input=" ".join(map(str, gen)) + "\n", capture_output=True, text=True,
                      check=True).stdout
assert open(f"{work}/text.txt").read() == text, "stdout is not the generated ids' text"
open(f"{work}/ids.txt", "w").write(" ".join(map(str, prompt[:5])) + "\n" + " ".join(map(str, prompt[5:])) + "\n")
open(f"{work}/gen.txt", "w").write(" ".join(map(str, gen)))
# The vocabulary entry of the third generated token, for --stop.
vocab = json.load(open(f"{work}/ckpt/tokenizer.json"))["model"]["vocab"]
entry = {i: s for s, i in vocab.items()}.get(gen[2], "") if len(gen) > 2 else ""
open(f"{work}/stop.txt", "w").write(entry)
print(f"logits match the reference: max diff {diff:.2e} over {len(rows)} rows")
PY
# The same prompt as ids (over two lines) generates the same tokens.
"${gen[@]}" --ids "$work/ids.txt" --logits-out "$work/logits-ids.json" > /dev/null 2>&1
/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert " ".join(map(str,a["generated_ids"])) == open(sys.argv[2]).read()' \
  "$work/logits-ids.json" "$work/gen.txt"
# --stop: ends the greedy generation right after that token (the third, when that one occurred
# no earlier); a value that is no vocabulary entry is refused.
stop=$(cat "$work/stop.txt")
if [[ -n "$stop" ]]; then
  "${gen[@]}" --prompt "$prompt" --stop "$stop" --logits-out "$work/logits-stop.json" > /dev/null 2>&1
  /usr/bin/python3 -c '
import json, sys
a = json.load(open(sys.argv[1])); full = open(sys.argv[2]).read().split()
n = len(a["generated_ids"])
assert a["finish"] == "stop" and n <= 3 and a["generated_ids"] == [int(x) for x in full[:n]], a["generated_ids"]
' "$work/logits-stop.json" "$work/gen.txt"
fi
# A seeded sample repeats.
"${gen[@]}" --prompt "$prompt" --temperature 1 --seed 5 > "$work/s1.txt" 2> /dev/null
"${gen[@]}" --prompt "$prompt" --temperature 1 --seed 5 > "$work/s2.txt" 2> /dev/null
cmp -s "$work/s1.txt" "$work/s2.txt" || { echo "the same seed sampled differently"; exit 1; }
# Bad inputs: refused, naming what is wrong; no logits file is left behind.
refused() {  # EXPECTED_MESSAGE ARGS...
  local want=$1 rc=0
  shift
  "${gen[@]}" "$@" --logits-out "$work/bad.json" > "$work/bad.log" 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || { echo "accepted: $*"; exit 1; }
  grep -qF -- "$want" "$work/bad.log" || { echo "no '$want' in:"; cat "$work/bad.log"; exit 1; }
  [[ ! -e "$work/bad.json" ]] || { echo "a logits file was written for: $*"; exit 1; }
}
printf '1 2 3\n4 five 6\n' > "$work/bad-ids.txt"
refused "bad-ids.txt:2: 'five' is not a token id" --ids "$work/bad-ids.txt"
printf '1 2 999999\n' > "$work/big-ids.txt"
refused "big-ids.txt:1: token id 999999 is outside the model's vocabulary" --ids "$work/big-ids.txt"
refused "give --prompt TEXT or --ids FILE"
refused "excludes" --prompt "x" --ids "$work/ids.txt"
refused "--stop 'no such token' is not a token" --prompt "x" --stop "no such token"
rc=0
"$iranker" generate --checkpoint "$work/ckpt" --prompt x --max-new-tokens 1000000 > "$work/bad.log" 2>&1 || rc=$?
[[ $rc -ne 0 ]] && grep -q "exceed the model's max_position_embeddings" "$work/bad.log" ||
  { echo "--max-new-tokens past the positions:"; cat "$work/bad.log"; exit 1; }
rc=0
"$iranker" generate --checkpoint "$work/no-such-checkpoint" --prompt x > "$work/bad.log" 2>&1 || rc=$?
[[ $rc -ne 0 ]] && grep -q "no-such-checkpoint" "$work/bad.log" || { echo "missing checkpoint:"; cat "$work/bad.log"; exit 1; }
echo ok
