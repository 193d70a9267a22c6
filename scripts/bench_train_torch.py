#!/usr/bin/env python3
"""PyTorch eager twin of `pencil-trainer bench-train`: the same trace model
(GPT-2 style, pre-LayerNorm, learned positions, tanh-GELU, tied embeddings,
student table -> 2-layer MLP (hidden 64) -> one soft token), the same preset
sizes, batch, context and vocabulary, AdamW, random tokens; prints the same
JSON fields so the candle/PyTorch ratio is measured in one sitting:

    pencil-trainer bench-train --preset small --batch-size 8 > candle.json
    python3 scripts/bench_train_torch.py --preset small --batch-size 8 > torch.json

On CUDA: bf16 autocast and fused AdamW (as the issue's reference numbers);
`--compile` adds torch.compile. Presets mirror pencil_core::model::Preset.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# (n_layer, n_head, n_embd, context, title_tokens, student_dim), default vocabulary
PRESETS = {
    "tiny": ((2, 2, 64, 128, 16, 16), 1024),
    "small": ((4, 4, 256, 1024, 32, 32), 8192),
    "base": ((8, 8, 512, 1024, 50, 64), 8192),
}
STUDENT_HIDDEN = 64
N_STUDENTS = 1000


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class TraceModel(nn.Module):
    def __init__(self, vocab, n_layer, n_head, d, context, student_dim):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context + 1, d)
        self.blocks = nn.ModuleList(Block(d, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.table = nn.Embedding(N_STUDENTS + 1, student_dim)
        self.mlp = nn.Sequential(nn.Linear(student_dim, STUDENT_HIDDEN), nn.ReLU(), nn.Linear(STUDENT_HIDDEN, d))

    def forward(self, ids, rows, weights):
        b, t = ids.shape
        soft = self.mlp(self.table(rows)).unsqueeze(1)
        x = torch.cat([soft, self.wte(ids[:, :-1])], dim=1)
        x = x + self.wpe(torch.arange(t, device=ids.device))
        for blk in self.blocks:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        nll = F.cross_entropy(logits.float().reshape(b * t, -1), ids.reshape(-1), reduction="none")
        w = weights.reshape(-1)
        return (nll * w).sum() / w.sum()


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small", choices=PRESETS)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--context", type=int)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float)
    a = ap.parse_args()
    (n_layer, n_head, d, context, _title, student_dim), vocab = PRESETS[a.preset]
    context = a.context or context
    vocab = a.vocab or vocab
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    torch.manual_seed(0)
    model = TraceModel(vocab, n_layer, n_head, d, context, student_dim).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1,
                            fused=(dev == "cuda"))
    step_fn = torch.compile(model) if a.compile else model
    b = a.batch_size
    ids = torch.randint(0, vocab, (b, context), device=dev)
    rows = torch.randint(0, N_STUDENTS + 1, (b,), device=dev)
    w = torch.ones(b, context, device=dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    fwd = bwd = upd = 0.0
    for step in range(a.warmup_steps + a.steps):
        t0 = time.perf_counter()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=(dev == "cuda")):
            loss = step_fn(ids, rows, w)
        loss.item()
        t1 = time.perf_counter()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        sync()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        t3 = time.perf_counter()
        if step >= a.warmup_steps:
            fwd += t1 - t0
            bwd += t2 - t1
            upd += t3 - t2
    total = fwd + bwd + upd
    tps = a.steps * b * context / total
    params = n_params(model)
    flops_per_token = 6 * params + 12 * n_layer * (context + 1) * d
    if a.peak_tflops:
        peak = a.peak_tflops * 1e12
    elif dev == "cuda":
        peak = 989e12
    else:
        peak = (os.cpu_count() or 1) * 3.0e9 * 32
    print(json.dumps({
        "preset": a.preset, "framework": "pytorch" + ("-compile" if a.compile else "-eager"),
        "torch": torch.__version__, "device": dev, "dtype": "bf16-autocast" if dev == "cuda" else "f32",
        "threads": torch.get_num_threads(), "params": params, "batch_size": b, "context": context, "vocab": vocab,
        "tokens_per_s": tps, "model_flops_per_s": tps * flops_per_token, "peak_flops": peak,
        "mfu": tps * flops_per_token / peak, "forward_share": fwd / total, "backward_share": bwd / total,
        "optimizer_share": upd / total, "step_ms": 1000 * total / a.steps,
    }, indent=2))


if __name__ == "__main__":
    main()
