"""Speed of genlab.blocks against PyTorch's own layers, forward + backward, float32, side by side.

* LSTM / GRU (input 64, hidden 256, seq 100, batch 64): the fast path (PyTorch's fused kernel on the
  layer's parameters) and the explicit path (the cells looped over time) vs ``torch.nn.LSTM/GRU``.
* ``MultiHeadAttention`` vs ``torch.nn.MultiheadAttention(batch_first=True)`` called with
  ``need_weights=False`` (its fastest form), d = 256, 8 heads, batch 1, L = 256, 1024, 4096.
* Linear (A8) vs softmax attention, d = 64 (8 heads of 8), batch 1, L = 1k, 4k, 16k, non-causal and
  causal: time, and the peak memory one forward + backward adds: the kernel's resident-set
  high-water mark (VmHWM, reset through ``/proc/self/clear_refs``) minus the resident size before
  the step, in a fresh subprocess per configuration (torch's allocations are invisible to tracemalloc).

Contenders are timed in interleaved rounds (order alternating); times are medians and a ratio is
the median of the per-round ratios, so ratios stay meaningful on a busy machine.

    python benchmarks/blocks.py [--quick] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch import nn

from benchmarks.common import record, write_results
from genlab.blocks import GRU, LSTM, LinearMultiHeadAttention, MultiHeadAttention


def interleaved(contenders: dict[str, Callable[[], None]], repeat: int, warmup: int = 1) -> dict[str, float]:
    """Time two contenders in ``repeat`` interleaved rounds (order alternating).

    Returns each one's median wall-clock seconds, ``"ratio"``: the median over rounds of
    second / first by wall clock, and ``"cpu_ratio"``: the same with the process's CPU time (less
    sensitive to being descheduled on a shared machine).
    """
    names = list(contenders)
    for _ in range(warmup):
        for n in names:
            contenders[n]()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeat):
        for n in names if r % 2 == 0 else reversed(names):
            t0, c0 = time.perf_counter(), time.process_time()
            contenders[n]()
            wall[n].append(time.perf_counter() - t0)
            cpu[n].append(time.process_time() - c0)
    out = {n: statistics.median(t) for n, t in wall.items()}
    ref, new = names
    out["ratio"] = statistics.median(b / a for a, b in zip(wall[ref], wall[new], strict=True))
    out["cpu_ratio"] = statistics.median(b / a for a, b in zip(cpu[ref], cpu[new], strict=True))
    return out


def fwd_bwd(module: nn.Module, *inputs: torch.Tensor, **kwargs) -> Callable[[], None]:
    """One training step's worth of work: forward, a scalar loss, backward."""
    def step() -> None:
        module.zero_grad(set_to_none=True)
        out = module(*inputs, **kwargs)
        out = out[0] if isinstance(out, tuple) else out
        out.float().mean().backward()
    return step


def time_record(name: str, t: dict[str, float], new: str, ref: str, **extra) -> dict:
    """A result row from ``interleaved``'s output: ``new`` against ``ref``, times in ms."""
    return record(name, "fwd+bwd time", t[new] * 1e3, "ms", t[ref] * 1e3, ratio=t["ratio"],
                  cpu_ratio=t["cpu_ratio"], **extra)


def bench_recurrent(quick: bool, repeat: int) -> list[dict]:
    B, T, D, H = (16, 30, 32, 64) if quick else (64, 100, 64, 256)
    config = f"input {D}, hidden {H}, seq {T}, batch {B}"
    records = []
    for name, ours_cls, torch_cls in [("LSTM", LSTM, nn.LSTM), ("GRU", GRU, nn.GRU)]:
        torch.manual_seed(0)
        ref = torch_cls(D, H, batch_first=True)
        fast, explicit = ours_cls(D, H, path="fast"), ours_cls(D, H, path="explicit")
        fast.load_state_dict(ref.state_dict())
        explicit.load_state_dict(ref.state_dict())
        x = torch.randn(B, T, D)
        t = interleaved({"torch": fwd_bwd(ref, x), "fast": fwd_bwd(fast, x)}, repeat + 4)
        records.append(time_record(f"{name} fast path vs torch.nn.{name}", t, "fast", "torch",
                                   goal="<= 1.10", config=config))
        t = interleaved({"torch": fwd_bwd(ref, x), "explicit": fwd_bwd(explicit, x)}, 3)
        records.append(time_record(f"{name} explicit path vs torch.nn.{name}", t, "explicit", "torch",
                                   goal="report", config=config))
    return records


def bench_mha(quick: bool, repeat: int) -> list[dict]:
    E, heads, B = 256, 8, 1
    records = []
    for L in ((128, 256) if quick else (256, 1024, 4096)):
        torch.manual_seed(0)
        ref = nn.MultiheadAttention(E, heads, batch_first=True)
        ours = MultiHeadAttention(E, heads)
        ours.load_state_dict(ref.state_dict())
        x = torch.randn(B, L, E)
        t = interleaved({"torch": fwd_bwd(ref, x, x, x, need_weights=False), "ours": fwd_bwd(ours, x)},
                        repeat if L < 4096 else 5)
        records.append(time_record("MultiHeadAttention vs torch.nn.MultiheadAttention", t, "ours", "torch",
                                   goal="<= 1.10", config=f"L {L}, d {E}, {heads} heads, batch {B}"))
    return records


def _attention_module(kind: str, causal: bool) -> tuple[nn.Module, dict]:
    E, heads = 64, 8
    module = LinearMultiHeadAttention(E, heads) if kind == "linear" else MultiHeadAttention(E, heads)
    return module, {"causal": causal}


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))


def _memory_child(kind: str, L: int, causal: bool) -> None:
    """Run in a fresh subprocess: print the peak resident memory (MiB) that one forward + backward adds.

    The kernel's high-water mark (VmHWM) is reset through ``/proc/self/clear_refs`` just before the
    step, so the import of torch and the inputs do not count.
    """
    torch.set_num_threads(2)
    torch.manual_seed(0)
    module, kw = _attention_module(kind, causal)
    x = torch.randn(1, L, 64, requires_grad=True)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    base = _status_kib("VmRSS")
    fwd_bwd(module, x, **kw)()
    sys.stdout.write(json.dumps({"peak_mib": (_status_kib("VmHWM") - base) / 1024}) + "\n")


def _peak_memory(kind: str, L: int, causal: bool) -> float:
    cmd = [sys.executable, __file__, "--memory-child", kind, str(L), str(int(causal))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mib"]


def bench_linear_vs_softmax(quick: bool, repeat: int) -> list[dict]:
    records = []
    lengths = (512, 1024, 2048) if quick else (1024, 4096, 16384)
    for causal in (False, True):
        tag = "causal" if causal else "non-causal"
        for L in lengths:
            torch.manual_seed(0)
            soft, kw = _attention_module("softmax", causal)
            lin, _ = _attention_module("linear", causal)
            lin.load_state_dict(soft.state_dict())
            x = torch.randn(1, L, 64)
            big = L > 4096  # seconds per step: no warm-up, 3 rounds
            t = interleaved({"softmax": fwd_bwd(soft, x, **kw), "linear": fwd_bwd(lin, x, **kw)},
                            3 if big else repeat, warmup=0 if big else 1)
            mem = {k: _peak_memory(k, L, causal) for k in ("softmax", "linear")}
            config = f"L {L}, d 64, 8 heads, batch 1, {tag}"
            records.append(time_record(f"linear vs softmax attention ({tag})", t, "linear", "softmax", L=L,
                                       goal="ratio <= 0.2 at 16k", config=config))
            records.append(record(f"linear vs softmax attention ({tag})", "peak memory added by fwd+bwd",
                                  mem["linear"], "MiB", mem["softmax"], L=L, config=config))
    return records


NOTES = (
    "value = genlab, reference = PyTorch (or softmax attention for the linear-attention rows); times are "
    "medians of interleaved rounds and a time ratio is the median over rounds of value/reference (< 1: "
    "genlab, or linear attention, is faster); cpu_ratio is the same with process CPU time. Forward + "
    "backward, float32. Softmax attention is genlab's "
    "MultiHeadAttention (PyTorch's fused SDPA kernel, which never stores the L×L matrix); linear "
    "attention is LinearMultiHeadAttention (chunked when causal). Peak memory: resident-set high-water "
    "mark (VmHWM, reset through /proc/self/clear_refs) minus the resident size before one forward + "
    "backward, in a fresh subprocess per configuration."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; printed, not recorded")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds per comparison")
    parser.add_argument("--memory-child", nargs=3, metavar=("KIND", "L", "CAUSAL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        kind, L, causal = args.memory_child
        _memory_child(kind, int(L), bool(int(causal)))
        return
    torch.set_num_threads(args.threads)
    repeat = 3 if args.quick else args.repeat
    records = bench_recurrent(args.quick, repeat) + bench_mha(args.quick, repeat)
    records += bench_linear_vs_softmax(args.quick, repeat)
    if not args.quick:  # a quick run is a smoke test: printed, not recorded
        write_results("blocks", records, notes=NOTES)
    for r in records:
        ratio = "" if r["ratio"] is None else f"ratio {r['ratio']:.3f}"
        ratio += f" (cpu {r['cpu_ratio']:.3f})" if "cpu_ratio" in r else ""
        sys.stdout.write(f"{r['name']:52s} {r['config']:42s} {r['metric']:30s} {r['value']:10.2f} "
                         f"{r['unit']:4s} ref {r['reference']:10.2f} {ratio}\n")


if __name__ == "__main__":
    main()
