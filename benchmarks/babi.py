"""Memory network vs the LSTM baseline on genlab's generated bAbI-style tasks (issue 26, S2): test error per task.

For each task (1–16 by default), at the training size ``--size`` (1k: 1,000 questions; 10k), one ``memn2n`` run
(3 hops, PE, temporal encoding, adjacent tying or ``--tying layerwise``, linear start for the first ``--ls-epochs``
epochs, random noise 0.1, d = 20; Adam ``--lr`` decayed by a cosine, batch 32, gradients clipped at 40;
``--epochs``; the best of ``--restarts`` seeds by validation accuracy) and one ``lstm-qa`` run (the LSTM reading the
story then the question; ``--lstm-epochs``) are trained through ``genlab.training.train``, and
scored on the task's 1,000 test questions: the error (1 − accuracy), and for MemN2N the share of questions whose
first hop attends most to one of the supporting sentences. The paper's 1k figures for scale (Sukhbaatar et al.
2015, Table 1, the original tasks, each the best of 10 runs by validation error): PE + LS + RN mean error 13.9 %,
LSTM 51.3 %. Goal (issue 26): MemN2N mean error ≤ 10 % at 1k and ≤ 3 % at 10k, below the LSTM on every task.

``--joint``: one MemN2N trained on every task at once (``task="all"``: 16,000 questions at 1k; the paper's joint
setting, §4.2: d = 50, 60 epochs), the best of ``--restarts`` by validation accuracy over all tasks, then scored on
each task's test questions; the LSTM rows stay per task.

    python benchmarks/babi.py                       # 16 tasks, 1k, both models
    python benchmarks/babi.py --joint --models memn2n --embed-dim 50 --epochs 60 --ls-epochs 15
    python benchmarks/babi.py --tasks 1 2 3 --models memn2n --epochs 40
    python benchmarks/babi.py --size 10k --epochs 30
    python benchmarks/babi.py --size 10k --models lstm-qa --lstm-epochs 5 --name babi_10k_lstm   # its own section

``--recipes '{name: {flag: value, ...}, ...}'`` trains MemN2N on each task under each named recipe (its flags override
``--epochs``, ``--ls-epochs``, ``--embed-dim``, ``--lr``, ``--restarts``, ``--tying``) and **chooses one recipe per
task by validation accuracy**; the task's row is that choice's test error (the test questions choose nothing), with
every recipe's error beside it. ``--workers 2`` trains two (task, recipe) jobs at once, each in its own process.
``--n-val`` sets the validation questions per task that make these choices and that of the best restart (the
dataset's ``n_val``, 100 by default; generated apart from the training questions, as the test ones are). ``--choose
loss`` makes both choices by the lower validation loss instead of the accuracy. A recipe
with ``"joint": true`` trains one model on every task at once (as ``--joint``; its restarts chosen on all tasks'
validation questions) and offers it to each task, scored on that task's validation questions like the others: the
choice per task is then between the joint model and the ones trained on the task alone. ``--ensemble`` (or
``"ensemble": true`` in a recipe): the ``--restarts`` runs answer as one ensemble, each question's answer
distribution the mean of theirs (``MemN2N.log_probs``), instead of the best run by validation (no first-hop figure:
the ensemble has no one attention).

    python benchmarks/babi.py --size 10k --models memn2n --epochs 30 --workers 2 --recipes \
        '{"ls": {"ls_epochs": 6, "restarts": 3}, "nols": {"ls_epochs": 0, "embed_dim": 50, "lr": 3e-3, "restarts": 1}}'
    python benchmarks/babi.py --models memn2n --workers 2 --recipes \
        '{"joint": {"joint": true, "embed_dim": 50, "epochs": 60, "ls_epochs": 15}, "task": {"restarts": 10}}'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, cpu_seconds, in_workers, record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation import evaluate  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402

PAPER_1K = {"memn2n": 13.9, "lstm-qa": 51.3}  # mean test error %, Sukhbaatar et al. 2015, Table 1 (original tasks)


@torch.no_grad()
def first_hop_support(model, data) -> float:
    """Share of the questions whose first hop attends most to one of their supporting sentences."""
    f = data.fields
    hits = []
    for i in range(0, len(data), 500):
        s, n, q = f["sentences"][i:i + 500], f["sentence_count"][i:i + 500], f["question"][i:i + 500]
        first = model.attention(s, n, q)[:, 0].argmax(-1)  # (B,)
        hits.append((f["supporting"][i:i + 500] == first[:, None]).any(-1))
    return torch.cat(hits).float().mean().item()


def run(model: str, task: int | str, args, out: Path) -> dict:
    """The test error (and first-hop support share) of ``model`` on ``task``: of the best of ``--restarts`` runs
    by validation accuracy for MemN2N (the paper keeps the best of 10), one run for the LSTM. ``task="all"``: one
    joint model; its row holds ``"tasks"``, task → that task's row."""
    runs = [train_once(model, task, args, out, seed) for seed in
            range(args.seed, args.seed + (args.restarts if model == "memn2n" else 1))]
    members = [r.pop("log_probs") for r in runs if "log_probs" in r]  # --ensemble: every run's answers
    best = max(runs, key=lambda r: by_validation(r, args.choose))
    row = {**best, "cpu": sum(r["cpu"] for r in runs), "seconds": sum(r["seconds"] for r in runs), "runs": len(runs)}
    if members:  # the ensemble's figures replace the best run's
        averaged = {t: ensemble_row([m[t] for m in members]) for t in members[0]}
        if task == "all":
            return {**row, "tasks": averaged}
        return {**{k: v for k, v in row.items() if k != "support"}, **averaged[task]}
    return row


@torch.no_grad()
def answer_log_probs(model, task: int, args) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{split: (log â (N, V), the answers (N,))}`` of ``model`` on ``task``'s ``--n-val`` validation and its test
    questions."""
    model.eval()
    out = {}
    for split, extra in (("val", {"n_val": args.n_val}), ("test", {})):
        f = load("babi", split=split, task=task, size=args.size, **extra).fields
        logp = [model.log_probs(f["sentences"][i:i + 500], f["sentence_count"][i:i + 500], f["question"][i:i + 500])
                for i in range(0, len(f["answer"]), 500)]
        out[split] = (torch.cat(logp), f["answer"])
    return out


def ensemble_row(members: list[dict[str, tuple[torch.Tensor, torch.Tensor]]]) -> dict:
    """Test error, validation accuracy and loss of the ensemble whose answer distribution is the mean of
    ``members``' (each ``answer_log_probs``' output for one task)."""
    row = {}
    for split in ("val", "test"):
        answer = members[0][split][1]  # (N,)
        logp = torch.stack([m[split][0] for m in members]).exp().mean(0).log()  # (N, V): log of the mean â
        accuracy = (logp.argmax(-1) == answer).float().mean().item()
        if split == "test":
            row["error"] = 100 * (1 - accuracy)
        else:
            row |= {"val_accuracy": accuracy, "val_loss": -logp[torch.arange(len(answer)), answer].mean().item()}
    return row


def by_validation(row: dict, by: str = "accuracy") -> tuple[float, float]:
    """The order that chooses among runs of one task: validation accuracy, then (on a tie, as at 100 %) the lower
    validation loss — the model surer of its right answers; ``by="loss"``: the lower validation loss (the mean
    −log p of the right answers: it reads every question's probability, where 100 questions' accuracy moves in
    steps of 1 %), then the accuracy."""
    if by == "loss":
        return -row.get("val_loss", 0.0), row["val_accuracy"]
    return row["val_accuracy"], -row.get("val_loss", 0.0)


def score(model, task: int, args, *, validation: bool = False) -> dict:
    """``model``'s test error on ``task`` (and the share of questions whose first hop reads a supporting sentence);
    with ``validation``, also its accuracy and loss on the task's ``--n-val`` validation questions (a joint model's
    figures per task, which a per-task choice of recipe reads)."""
    options = {"task": task, "size": args.size}
    accuracy = evaluate(model, "babi", ["accuracy"], data_options=options)["accuracy"]
    row = {"error": 100 * (1 - accuracy)}
    if validation:
        val = evaluate(model, "babi", ["accuracy", "loss"], split="val", data_options={**options, "n_val": args.n_val})
        row |= {"val_accuracy": val["accuracy"], "val_loss": val["loss"]}
    if hasattr(model, "attention"):
        model.eval()
        row["support"] = 100 * first_hop_support(model, load("babi", split="test", **options))
    return row


def train_once(model: str, task: int | str, args, out: Path, seed: int) -> dict:
    options = {"task": task, "size": args.size, "n_val": args.n_val}  # n_val: the questions that choose
    steps_per_epoch = {"1k": 1000, "10k": 10000}[args.size] * (16 if task == "all" else 1) // 32
    model_options = ({"embed_dim": args.embed_dim, "hops": 3, "linear_start": args.ls_epochs * steps_per_epoch,
                      "random_noise": 0.1, "tying": args.tying} if model == "memn2n" else {})
    epochs = args.epochs if model == "memn2n" else args.lstm_epochs
    cfg = TrainConfig(model=model, data="babi", data_options=options, epochs=epochs, lr=args.lr,
                      lr_schedule="cosine", seed=seed, quiet=True, num_samples=0, model_options=model_options,
                      out=str(out / f"{model}-{task}-{args.size}-{seed}"))
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = train(cfg)
    row = {"seconds": time.perf_counter() - t0, "cpu": cpu_seconds() - c0,
           "val_accuracy": result.metrics["val/accuracy"], "val_loss": result.metrics["val/loss"]}
    if args.ensemble:  # its answer distributions, for the ensemble of the restarts (``run``)
        row["log_probs"] = {t: answer_log_probs(result.model, t, args) for t in
                            (args.tasks if task == "all" else (task,))}
    if task == "all":
        row["tasks"] = {t: score(result.model, t, args, validation=bool(args.recipes)) for t in args.tasks}
        print(f"  seed {seed}: validation accuracy {row['val_accuracy']:.4f}, mean test error "
              f"{sum(r['error'] for r in row['tasks'].values()) / len(args.tasks):.1f} % "
              f"({row['cpu'] / 60:.1f} CPU-min)", flush=True)
        return row
    return {**row, **score(result.model, task, args)}


RECIPE_FLAGS = ("epochs", "ls_epochs", "embed_dim", "lr", "restarts", "tying", "joint", "ensemble")


def recipes_of(args: argparse.Namespace) -> dict[str, argparse.Namespace]:
    """``{name: args with the recipe's flags}`` from ``--recipes``; ``SystemExit`` for a flag it cannot set."""
    out = {}
    for name, flags in args.recipes.items():
        if not isinstance(flags, dict) or set(flags) - set(RECIPE_FLAGS):
            raise SystemExit(f"--recipes: {name!r} must map some of {', '.join(RECIPE_FLAGS)} to values, got {flags!r}")
        out[name] = argparse.Namespace(**{**vars(args), **flags})
    return out


def chosen(rows: dict[str, dict], by: str = "accuracy") -> tuple[str, dict]:
    """The recipe of ``{recipe: row}`` first ``by_validation`` (the first listed on a full tie), and its row."""
    name = max(rows, key=lambda r: by_validation(rows[r], by))
    return name, rows[name]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, nargs="+", default=list(range(1, 17)))
    p.add_argument("--size", choices=("1k", "10k"), default="1k")
    p.add_argument("--models", nargs="+", default=["memn2n", "lstm-qa"], choices=("memn2n", "lstm-qa"))
    p.add_argument("--epochs", type=int, default=100, help="MemN2N's epochs (the paper: 100)")
    p.add_argument("--lstm-epochs", type=int, default=30)
    p.add_argument("--restarts", type=int, default=3, help="MemN2N runs per task (seeds), the best by validation")
    p.add_argument("--ls-epochs", type=int, default=20, help="MemN2N's linear start, in epochs")
    p.add_argument("--embed-dim", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--tying", choices=("adjacent", "layerwise"), default="adjacent",
                   help="MemN2N's weight tying (§2.2): adjacent, or layer-wise with a linear map H between hops")
    p.add_argument("--n-val", type=int, default=100, help="validation questions per task (the dataset's n_val): they "
                   "choose the best of --restarts and the recipe")
    p.add_argument("--choose", choices=("accuracy", "loss"), default="accuracy",
                   help="what chooses the best restart and the recipe per task: validation accuracy (ties: the "
                        "lower loss), or the lower validation loss (ties: the accuracy)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--name", help="the section's name (default babi_<size>, + _joint with --joint)")
    p.add_argument("--ensemble", action="store_true", help="MemN2N: the --restarts runs answer together (their answer "
                   "probabilities averaged) instead of the best of them by validation")
    p.add_argument("--joint", action="store_true", help="MemN2N trained on every task at once (the LSTM per task)")
    p.add_argument("--recipes", type=json.loads, help="MemN2N recipes as JSON, one chosen per task on validation")
    p.add_argument("--workers", type=int, default=1, help="with --recipes: (task, recipe) runs trained at once")
    args = p.parse_args()
    if args.joint and args.recipes:
        p.error("--joint and --recipes: give the joint model as a recipe instead, e.g. "
                '--recipes \'{"joint": {"joint": true, "embed_dim": 50}, "task": {"restarts": 10}}\'')
    torch.set_num_threads(args.threads)
    results: dict[str, dict[int, dict]] = {m: {} for m in args.models}
    per_recipe: dict[int, dict[str, dict]] = {}
    spent = 0.0  # CPU-seconds of every recipe's runs (a joint recipe's once)
    with tempfile.TemporaryDirectory() as tmp:
        if args.recipes and "memn2n" in args.models:
            recipes = recipes_of(args)
            jobs = [("memn2n", "all", r, Path(tmp) / name) for name, r in recipes.items() if r.joint]  # first: longest
            jobs += [("memn2n", t, r, Path(tmp) / name) for t in args.tasks for name, r in recipes.items()
                     if not r.joint]
            done = in_workers(run, jobs, args.workers, args.threads)
            for (_, task, _, out), row in zip(jobs, done, strict=True):
                spent += row["cpu"]
                rows_of = row["tasks"] if task == "all" else {task: row}  # a joint recipe: one model, every task
                for t, r in rows_of.items():
                    per_recipe.setdefault(t, {})[out.name] = {**r, "cpu": row["cpu"]}
                    print(f"  task {t:2d} recipe {out.name}: error {r['error']:5.1f} %, validation accuracy "
                          f"{r['val_accuracy']:.4f}, loss {r['val_loss']:.4f} ({row['cpu'] / 60:.1f} CPU-min"
                          f"{' for all tasks' if task == 'all' else ''})", flush=True)
            per_recipe = {t: per_recipe[t] for t in args.tasks}  # the tasks' order
            for task in args.tasks:
                name, row = chosen(per_recipe[task], args.choose)
                results["memn2n"][task] = {**row, "recipe": name}
                print(f"task {task:2d} memn2n error {row['error']:5.1f} % (recipe {name}, chosen on validation; "
                      + ", ".join(f"{n} {r['error']:.1f} % / val {r['val_accuracy']:.4f}"
                                  for n, r in per_recipe[task].items()) + ")", flush=True)
        if args.joint and "memn2n" in args.models:
            joint = run("memn2n", "all", args, Path(tmp))
            results["memn2n"] = {t: {**row, "cpu": joint["cpu"]} for t, row in joint["tasks"].items()}
            print(f"joint MemN2N: best of {joint['runs']} by validation ({joint['val_accuracy']:.4f}), "
                  f"{joint['cpu'] / 60:.1f} CPU-min in all", flush=True)
        for task in args.tasks:
            for m in args.models:
                if m == "memn2n" and (args.joint or args.recipes):
                    continue
                results[m][task] = run(m, task, args, Path(tmp))
                extra = f", first hop on a supporting fact {results[m][task]['support']:.1f} %" \
                    if "support" in results[m][task] else ""
                print(f"task {task:2d} {m:8s} error {results[m][task]['error']:5.1f} %{extra} "
                      f"({results[m][task]['cpu'] / 60:.1f} CPU-min)", flush=True)
    names = list(per_recipe[args.tasks[0]]) if per_recipe else []
    rows, lines = [], [f"| task | {' | '.join(f'{m} error %' for m in args.models)} | MemN2N first hop on support % |"
                       + "".join(f" {n}: error % / val accuracy |" for n in names) + (" chosen |" if names else ""),
                       "|---|" + "---|" * (len(args.models) + 1 + len(names) + bool(names))]
    for task in args.tasks:
        cells = [f"{results[m][task]['error']:.1f}" for m in args.models]
        support = results.get("memn2n", {}).get(task, {}).get("support")
        extra = "".join(f" {per_recipe[task][n]['error']:.1f} / {per_recipe[task][n]['val_accuracy']:.4f} |"
                        for n in names) + (f" {results['memn2n'][task]['recipe']} |" if names else "")
        lines.append(f"| {task} | {' | '.join(cells)} | {'' if support is None else f'{support:.1f}'} |{extra}")
        for m in args.models:
            rows.append(record(f"babi {args.size} task {task}", f"{m} test error", results[m][task]["error"], "%",
                               cpu_minutes=round(results[m][task]["cpu"] / 60, 2),
                               val_accuracy=results[m][task].get("val_accuracy"),  # a later choice reads it
                               recipe=results[m][task].get("recipe")))
    means = {m: sum(r["error"] for r in results[m].values()) / len(results[m]) for m in args.models}
    lines.append(f"| mean | {' | '.join(f'{means[m]:.1f}' for m in args.models)} | |")
    for m in args.models:
        rows.append(record(f"babi {args.size} mean of {len(args.tasks)} tasks", f"{m} test error", means[m], "%",
                           reference=PAPER_1K[m] if args.size == "1k" else None))
    wins = [t for t in args.tasks if "memn2n" in results and "lstm-qa" in results
            and results["memn2n"][t]["error"] < results["lstm-qa"][t]["error"]]
    notes = "\n".join(lines) + (f"\n\nMemN2N below the LSTM on {len(wins)} of {len(args.tasks)} tasks."
                                if len(args.models) == 2 else "")
    if names:
        notes += f"\n\nEvery recipe's training together: {spent / 60:.1f} CPU-min."
    print(notes)
    write_results(args.name or f"babi_{args.size}{'_joint' if args.joint else ''}", rows, command_line(), notes=notes)


if __name__ == "__main__":
    main()
