#!/usr/bin/env python3
"""Writes corpus.jsonl, the tokenizer parity corpus: one JSON string per line (so that texts may
hold newlines, tabs and carriage returns). Deterministic: re-running it gives the same file.

Usage: python3 tests/tokenizer/make_corpus.py > tests/tokenizer/corpus.jsonl

Avoided on purpose (the JS reference and Hugging Face disagree on them, see tokenizer/README.md):
U+0085, U+180E and U+FEFF (JavaScript's \\s differs from Unicode White_Space), U+017F and U+212A
(case folding in the contraction group), and characters newer than Unicode 13.
"""
import json
import random

rng = random.Random(20261123)

english = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you doing today?",
    "I'm sure they'll say it's fine, but we've seen what they'd do.",
    "DON'T SHOUT. It'S ONLY a TEST, We'LL see, YOU'VE been WARNED, I'M here, HE'D go.",
    "Rank the following passages by relevance to the query: 'best pizza in Naples'.",
    "Passage [3] is more relevant than passage [1] because it answers the question directly.",
    "The answer is: [2] > [5] > [1] > [4] > [3]",
    "Mr. Smith went to Washington D.C. on Jan. 5th, 2021 at 3:45 p.m.",
    "She said, \"This is a 'quoted' phrase\" -- and then left...",
    "e.g. i.e. etc. vs. a.k.a. U.S.A. Ph.D. O'Neill rock'n'roll",
    "What's the difference between a list and a tuple in Python?",
    "Large language models (LLMs) are trained on trillions of tokens.",
    "Reinforcement learning from human feedback (RLHF) fine-tunes a policy with a reward model.",
    "   leading spaces and trailing spaces   ",
    "tabs\tbetween\twords\tand\t\tdouble\ttabs",
    "CamelCaseIdentifiersLikeThisOne and snake_case_identifiers_like_this_one",
    "ALL CAPS SENTENCE WITH NUMBERS 123 AND SYMBOLS #@!",
    "lowercase without punctuation just words flowing on and on",
    "Question: Which candidate best matches the user's intent? Answer: candidate B.",
    "It's 5 o'clock somewhere; isn't it?",
]

code = [
    "int main(int argc, char** argv) { return argc > 1 ? 0 : 1; }",
    "def f(x):\n    return [i * 2 for i in range(x) if i % 3 == 0]\n",
    "for (size_t i = 0; i < v.size(); ++i) {\n\tsum += v[i];\n}",
    "const add = (a, b) => a + b; console.log(`sum: ${add(2, 3)}`);",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
    "#include <torch/torch.h>\n#include <vector>\n\nnamespace iranker {}\n",
    "if x != None and y == 0:\n        raise ValueError(\"bad value: %r\" % (x,))",
    "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\"}}",
    "git commit -m \"fix: handle empty input\" && git push origin main",
    "std::unique_ptr<Tokenizer> tok = Tokenizer::FromFile(\"/models/qwen/tokenizer.json\");",
    "x = 0x1F; y = 0b1010; z = 1_000_000; w = 3.14159e-10",
    "    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)",
    "<html><body><div class=\"main\">Hello &amp; welcome</div></body></html>",
    "a<=b&&c>=d||!e; i++; j--; k+=2; m->n; p::q; r...s",
    "/* block comment */ // line comment\n# python comment\n-- sql comment",
    "fn main() -> Result<(), Box<dyn Error>> { println!(\"{:?}\", vec![1, 2]); Ok(()) }",
    "$ ls -la /usr/local/bin | grep -E '^-rwx' | wc -l",
    "matrix = [[1, 0, 0],\n          [0, 1, 0],\n          [0, 0, 1]]",
    "\tif (err != nil) {\n\t\treturn fmt.Errorf(\"open %s: %w\", path, err)\n\t}",
    "@decorator\nclass Foo(Base):\n    pass\n\n\n",
]

numbers = [
    "0", "7", "42", "1234567890", "3.14159265358979", "-273.15", "1,234,567.89", "1e-9",
    "6.022e23", "+1 (555) 123-4567", "2024-02-29T23:59:59Z", "192.168.0.1", "v1.2.3-rc.4",
    "99.9%", "$1,000,000", "€12,50", "¥500", "12:30:45", "1/2 + 3/4 = 5/4", "10^6",
    "0000000000000000000000000000", "31415926535897932384626433832795028841971693993751",
    "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "１２３４５", "Ⅻ ⅻ ½ ¾ ² ³", "x₁ + x₂ = y³",
]

cjk = [
    "你好，世界！今天天气很好。",
    "我们在训练一个用于排序的大语言模型，使用强化学习。",
    "こんにちは、世界。今日はいい天気ですね。",
    "カタカナとひらがなと漢字が混ざった文章です。",
    "안녕하세요, 세계! 오늘 날씨가 좋네요.",
    "中文English混合text测试123",
    "「引用」『二重引用』（括弧）【強調】",
    "東京都渋谷区神南1-2-3",
    "人工智能（AI）正在改变世界。机器学习、深度学习、自然语言处理。",
    "한국어 문장과 English sentence가 섞여 있습니다.",
    "　全角スペースと　ＡＢＣ　全角英字",
    "中" * 40,
]

emoji = [
    "I love 🍕 and 🍣!",
    "👍🏽👍🏿👋🏻",
    "👨‍👩‍👧‍👦 family emoji with ZWJ",
    "🇯🇵🇺🇸🇩🇪🇫🇷 flags",
    "😀😃😄😁😆😅🤣😂🙂🙃",
    "❤️ ✔️ ☀️ ✈️ (with variation selectors)",
    "🏳️‍🌈 🏴‍☠️",
    "text🙂text🙂text",
    "🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀",
    "1️⃣ 2️⃣ #️⃣ *️⃣",
]

accents = [
    "café naïve résumé coöperate façade jalapeño",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301",  # decomposed: NFC composes
    "A\u030a Å \u212b",  # A+ring, precomposed, angstrom sign (NFC maps to Å)
    "Tiếng Việt có nhiều dấu: ả ã ạ ấ ầ ẩ ẫ ậ",
    "Z\u0351\u0352\u0353a\u0354\u0355l\u0356\u0357g\u0358o\u0359",  # stacked combining marks
    "e\u0301\u0301\u0301 double accents",
    "ﬁ ﬂ ligatures stay (NFC is not NFKC)",
    "Ω vs \u2126 (ohm sign)",
    "ñ vs n\u0303, ü vs u\u0308",
    "\u1100\u1161\u11a8 hangul jamo compose",
    "Ελληνικά: άλφα, βήτα, γάμμα",
    "ǅ ǈ ǋ titlecase digraphs",
]

scripts = [
    "مرحبا بالعالم! كيف حالك اليوم؟",
    "اللغة العربية مع أرقام 123 وكلمات English",
    "नमस्ते दुनिया! आज मौसम अच्छा है।",
    "हिन्दी में लिखा गया वाक्य, जिसमें मात्राएँ हैं।",
    "Привет, мир! Как дела?",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "שלום עולם! מה שלומך?",
    "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Γειά σου Κόσμε!",
    "Բարեւ աշխարհ",
    "გამარჯობა მსოფლიო",
    "ሰላም ልዑል",
    "Tiếng Việt, Русский, العربية, हिन्दी, 中文, 日本語 in one line",
    "ДЛИННОЕ СЛОВО ЗАГЛАВНЫМИ and mixed Кириллица+Latin",
]

urls = [
    "https://www.example.com/path/to/page?query=value&other=123#section",
    "http://localhost:8080/api/v1/users/42",
    "mailto:someone@example.org",
    "ftp://files.example.net/pub/file-1.2.3.tar.gz",
    "Visit https://huggingface.co/Qwen/Qwen2.5-3B-Instruct/blob/main/tokenizer.json today",
    "user.name+tag@sub.domain.co.uk",
    "C:\\Users\\Admin\\Documents\\report_final(2).docx",
    "/home/user/.config/iranker/config.yaml",
    "https://zh.wikipedia.org/wiki/%E4%B8%AD%E6%96%87",
    "www.例子.测试/路径?参数=值",
]

whitespace = [
    "a b",
    "a  b",
    "a   b",
    "a    b",
    "a         b",
    " ",
    "  ",
    "    ",
    "\t",
    "\t\t\t",
    " \t \t ",
    "word\t",
    "word \t\n",
    "\n",
    "\n\n",
    "\n\n\n\n",
    "\r\n",
    "line one\r\nline two\r\n",
    "line one\nline two\n\nline four",
    "  \n  \n  ",
    "trailing newline\n",
    "\nleading newline",
    "para 1\n\n\npara 2",
    "a\u00a0b\u00a0\u00a0c",  # no-break spaces
    "a\u3000b",  # ideographic space
    "a\u2009b\u200ac\u2002d",  # thin, hair, en spaces
    "a\u2028b\u2029c",  # line/paragraph separators
    "x" + " " * 64 + "y",
    "\t" * 20 + "deep indent",
    "  indented line\n    more indented\n\tand tabbed",
    "",
    "end with spaces    ",
    "!   ?",
    "1  2   3    4",
]

special = [
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
    "<|endoftext|>",
    "text before<|endoftext|>text after",
    "<|im_end|><|im_start|><|im_end|>",
    "<|im_start",
    "<|im_end|",
    "im_start|>",
    "<|im_start|x",
    "<<|im_start|>>",
    "<think>\nreasoning here\n</think>\n\nfinal answer",
    "<tool_call>{\"name\": \"search\"}</tool_call>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n    return 1<|fim_middle|>",
    "<|vision_start|><|image_pad|><|vision_end|>",
    " <|im_end|> spaces around <|im_start|> ",
    "<|endoftext|><|endoftext|><|endoftext|>",
    "<|unknown_special|> is not a token",
    "< |im_start| >",
    "<|IM_START|>",
    "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n你好！",
]

long_words = [
    "a" * 300,
    "ab" * 150,
    "abc" * 200,
    "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "Supercalifragilisticexpialidocious",
    "x" * 1000,
    "1" * 200,
    "aGVsbG8gd29ybGQhIFRoaXMgaXMgYSBsb25nIGJhc2U2NCBlbmNvZGVkIHN0cmluZyB1c2VkIGZvciB0ZXN0aW5nLg==",
    "".join(chr(0x4E00 + (i * 37) % 2000) for i in range(500)),
    "!" * 100,
    "-" * 80,
    "=" * 120,
    "_" * 60,
    "é" * 100,
    "Привет" * 50,
    "🙂" * 100,
    "the" * 100,
    "ThisIsAVeryLongCamelCaseIdentifierThatKeepsGoingAndGoingWithoutAnySpacesAtAll" * 2,
    "ab" * 2 + "aaaa" * 30 + "b" * 51,
]

punct = [
    "!!!???...,,,;;;:::",
    "...",
    "…",
    "--- *** ___ ~~~ ```",
    "(((nested))) [[[brackets]]] {{{braces}}}",
    "\"'\"'\"'",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "it's can't won't shouldn't y'all'd've",
    "''''",
    "¿Qué? ¡Sí!",
    "« guillemets » „Anführungszeichen“ “curly” ‘single’",
    "→ ← ↑ ↓ ⇒ ⇔ ∀ ∃ ∈ ∉ ∑ ∏ √ ∞ ≈ ≠ ≤ ≥",
    "┌─┬─┐\n│a│b│\n└─┴─┘",
    "© ® ™ § ¶ † ‡ • ° ± × ÷",
    "@#$%^&*()_+-=[]{}|;:,.<>?/~`",
    "\\n is not a newline, \\t is not a tab",
    "\u0000\u0001\u0007\u001b[0m control chars",
    "\u007f\u00ad soft hyphen and DEL",
]

pools = [english, code, numbers, cjk, emoji, accents, scripts, urls, whitespace, special,
         long_words, punct]
lines = [x for pool in pools for x in pool]

# Random mixtures of fragments with varied separators, to reach well over 500 lines.
fragments = [f for pool in (english, numbers, cjk, emoji, accents, scripts, urls, punct, special)
             for f in pool if len(f) < 200]
seps = [" ", "", "  ", "\t", "\n", "\n\n", " \n ", ", ", "\r\n", "   \t", "\u00a0"]
words = ("the of and to in is you that it he was for on are as with his they I at be this have "
         "from or one had by word but not what all were we when your can said there use an each "
         "which she do how their if will up other about out many then them these so some her "
         "would make like him into time has look two more write go see number no way could people "
         "my than first water been call who oil its now find long down day did get come made may "
         "part").split()
for i in range(330):
    kind = i % 3
    if kind == 0:
        k = rng.randint(2, 5)
        s = "".join(rng.choice(fragments) + rng.choice(seps) for _ in range(k))
    elif kind == 1:
        n = rng.randint(3, 40)
        out = []
        for _ in range(n):
            w = rng.choice(words)
            r = rng.random()
            if r < 0.1:
                w = w.capitalize()
            elif r < 0.15:
                w = w.upper()
            elif r < 0.2:
                w += rng.choice([".", ",", "!", "?", "'s", "'ll", ":", ";"])
            elif r < 0.25:
                w = str(rng.randint(0, 10 ** rng.randint(1, 9)))
            out.append(w)
            out.append(rng.choice([" ", " ", " ", " ", "  ", "\n", "\t", " - "]))
        s = "".join(out)
    else:
        # Random code points from a curated set of ranges (letters, marks, symbols, spaces).
        ranges = [(0x20, 0x7E), (0xA0, 0xFF), (0x100, 0x17E), (0x391, 0x3C9), (0x410, 0x44F),
                  (0x5D0, 0x5EA), (0x621, 0x64A), (0x905, 0x939), (0x300, 0x36F), (0x3041, 0x3096),
                  (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x1F600, 0x1F64F), (0x2000, 0x200A),
                  (0x2190, 0x21FF), (0xFF01, 0xFF5E)]
        n = rng.randint(1, 60)
        s = "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(n))
    lines.append(s)

for line in lines:
    print(json.dumps(line, ensure_ascii=False))
