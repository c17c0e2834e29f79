#!/usr/bin/python3
"""An eager PyTorch Qwen2/Llama, written the way Hugging Face transformers writes it.

It is iranker's independent reference: the numerics test compares iranker's logits with these, and
`iranker bench generate` times iranker's engine against this model's generation loop (transformers
style: left-padded ragged batch, attention mask, a KV cache grown by torch.cat, greedy decoding).
Only Debian's python3-torch and python3-numpy are needed; weights are read from safetensors here.

Usage:
  hf_qwen2.py logits CKPT_DIR IDS_JSON            -> JSON logits of one sequence
  hf_qwen2.py generate CKPT_DIR PROMPTS_JSON NEW THREADS WARMUP REPEATS -> JSON timing + tokens
  hf_qwen2.py train_step CKPT_DIR BATCH_JSON THREADS WARMUP REPEATS     -> JSON timing of a PPO step
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
          "I32": np.int32, "BF16": "bf16"}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        buf = raw[base + b: base + en]
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16
            t = torch.from_numpy(u16.view(np.float32).copy()).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(buf, dtype=DTYPES[e["dtype"]]).copy())
        out[name] = t.reshape(e["shape"])
    return out


def load_state(ckpt):
    idx = os.path.join(ckpt, "model.safetensors.index.json")
    if os.path.exists(idx):
        state = {}
        for f in sorted(set(json.load(open(idx))["weight_map"].values())):
            state.update(load_safetensors(os.path.join(ckpt, f)))
        return state
    return load_safetensors(os.path.join(ckpt, "model.safetensors"))


class RMSNorm(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        var = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, h, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h = c["num_attention_heads"]
        self.kvh = c.get("num_key_value_heads", self.h)
        self.hd = c.get("head_dim") or c["hidden_size"] // self.h
        bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
        self.q_proj = nn.Linear(c["hidden_size"], self.h * self.hd, bias=bias)
        self.k_proj = nn.Linear(c["hidden_size"], self.kvh * self.hd, bias=bias)
        self.v_proj = nn.Linear(c["hidden_size"], self.kvh * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.h * self.hd, c["hidden_size"], bias=False)

    def forward(self, x, cos, sin, mask, past):
        b, q_len, _ = x.shape
        q = self.q_proj(x).view(b, q_len, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, q_len, self.kvh, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, q_len, self.kvh, self.hd).transpose(1, 2)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        k = repeat_kv(k, self.h // self.kvh)
        v = repeat_kv(v, self.h // self.kvh)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd)
        w = w + mask
        w = nn.functional.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(w, v).transpose(1, 2).reshape(b, q_len, -1)
        return self.o_proj(out), present


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        bias = c.get("mlp_bias", False)
        self.gate_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=bias)
        self.up_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=bias)
        self.down_proj = nn.Linear(c["intermediate_size"], c["hidden_size"], bias=bias)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask, past):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        self.tied = c.get("tie_word_embeddings", False)
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))

    def forward(self, ids, position_ids, mask, past=None, logits_to_keep=0):
        """Logits of the last `logits_to_keep` positions (0: all), as transformers' generate asks
        for only the last one: no [batch x prompt x vocabulary] tensor in a prefill."""
        x = self.model.embed_tokens(ids)
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, p = layer(x, cos, sin, mask, None if past is None else past[i])
            presents.append(p)
        if logits_to_keep:
            x = x[:, -logits_to_keep:]
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return nn.functional.linear(x, w).float(), presents


def load_model(ckpt):
    c = json.load(open(os.path.join(ckpt, "config.json")))
    m = CausalLM(c)
    state = load_state(ckpt)
    if m.tied:
        state.pop("lm_head.weight", None)
    m.load_state_dict(state, strict=True)
    return m.eval()


def causal_mask(attn, q_len, past_len):
    """Additive [b, 1, q_len, past_len + q_len] mask from a [b, past_len + q_len] padding mask."""
    total = past_len + q_len
    i = torch.arange(q_len)[:, None] + past_len
    j = torch.arange(total)[None, :]
    allowed = (j <= i)[None, None] & attn[:, None, None, :].bool()
    return torch.where(allowed, 0.0, torch.finfo(torch.float32).min)


@torch.no_grad()
def generate(m, prompts, new_tokens):
    """transformers-style greedy generation of a ragged batch: left padding, KV cache by cat."""
    b = len(prompts)
    width = max(len(p) for p in prompts)
    ids = torch.zeros(b, width, dtype=torch.long)
    attn = torch.zeros(b, width, dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p):] = torch.tensor(p)
        attn[r, width - len(p):] = 1
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    logits, past = m(ids, pos, causal_mask(attn, width, 0), logits_to_keep=1)
    out = []
    for step in range(new_tokens):
        nxt = logits[:, -1, :].argmax(-1)
        out.append(nxt)
        if step + 1 == new_tokens:
            break
        attn = torch.cat([attn, torch.ones(b, 1, dtype=torch.long)], dim=1)
        pos = (attn.sum(-1, keepdim=True) - 1)
        logits, past = m(nxt[:, None], pos, causal_mask(attn, 1, attn.shape[1] - 1), past)
    return torch.stack(out, dim=1).tolist()


def main():
    cmd, ckpt = sys.argv[1], sys.argv[2]
    if cmd == "logits":
        ids = json.load(open(sys.argv[3]))
        m = load_model(ckpt)
        t = torch.tensor([ids])
        attn = torch.ones_like(t)
        with torch.no_grad():
            logits, _ = m(t, torch.arange(len(ids))[None], causal_mask(attn, len(ids), 0))
        print(json.dumps(logits[0].tolist()))
    elif cmd == "generate":
        prompts = json.load(open(sys.argv[3]))
        new, threads, warmup, repeats = (int(x) for x in sys.argv[4:8])
        torch.set_num_threads(threads)
        m = load_model(ckpt)
        times, toks = [], None
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            toks = generate(m, prompts, new)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        times.sort()
        k = len(times)
        med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
        print(json.dumps({"seconds": med, "tokens": toks}))
    elif cmd == "generate_batches":
        # A generic RL framework's rollout of elimination episodes: every step's prompts generated
        # from scratch, one batch per step (no prefix reuse across steps or samples).
        batches = json.load(open(sys.argv[3]))
        new, threads, warmup, repeats = (int(x) for x in sys.argv[4:8])
        torch.set_num_threads(threads)
        m = load_model(ckpt)
        times = []
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            for prompts in batches:
                generate(m, prompts, new)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        times.sort()
        k = len(times)
        med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
        print(json.dumps({"seconds": med}))
    elif cmd == "train_step":
        # One PPO step (forward, clipped-surrogate loss on response tokens, backward, AdamW), timed.
        batch = json.load(open(sys.argv[3]))
        threads, warmup, repeats = (int(x) for x in sys.argv[4:7])
        torch.set_num_threads(threads)
        m = load_model(ckpt).train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        ids = torch.tensor(batch["ids"])
        mask = torch.tensor(batch["mask"], dtype=torch.float32)
        old = torch.tensor(batch["old"], dtype=torch.float32)
        adv = torch.tensor(batch["adv"], dtype=torch.float32)
        b, t = ids.shape
        attn = torch.ones_like(ids)
        cmask = causal_mask(attn, t, 0)
        pos = torch.arange(t)[None].expand(b, t)

        def step():
            logits, _ = m(ids, pos, cmask)
            logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
            mk, o, a = mask[:, 1:], old[:, 1:], adv[:, 1:]
            ratio = torch.exp(logp - o)
            pg = -torch.min(ratio * a, torch.clamp(ratio, 0.8, 1.2) * a)
            loss = (pg * mk).sum() / mk.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()

        times = []
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            step()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        times.sort()
        k = len(times)
        med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
        print(json.dumps({"seconds": med}))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
