"""Multi-node DDP on one machine: two "nodes" of one process each, joined over 127.0.0.1 (gloo).

Each node is its own ``python`` process launched as on a real machine: ``--num-nodes 2 --devices 1
--strategy ddp`` with Lightning's environment variables (``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK``;
docs/scaling.md). With one device per node Lightning launches no child process, so nothing re-runs pytest.
"""

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
import torch

from genlab.data import load

STEPS, BATCH = 6, 64  # digits: 1350 rows // (64 × 2 processes) = 10 steps per epoch, so the run stops mid-epoch

#: one node: ``train()`` as ``genlab train`` runs it, plus a callback that writes what this rank saw
NODE_SCRIPT = textwrap.dedent("""
    import sys, torch, torch.distributed as dist, lightning as L
    from genlab.training import TrainConfig, train

    class Record(L.Callback):
        def __init__(self):
            self.seen = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.seen.append(batch["x"].flatten(1).clone())

        def on_train_end(self, trainer, pl_module):
            self.info = {{"global_rank": trainer.global_rank, "node_rank": trainer.node_rank,
                         "world_size": trainer.world_size, "dist_world_size": dist.get_world_size(),
                         "global_step": trainer.global_step}}
            self.weights = {{k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}}

    record = Record()
    result = train(TrainConfig(**{cfg}), callbacks=[record])
    torch.save({{**record.info, "steps": result.steps, "metrics": result.metrics, "weights": record.weights,
                "seen": torch.cat(record.seen)}}, sys.argv[1] + f"/rank{{record.info['global_rank']}}.pt")
""")

#: what the parent's environment may hold that would make Lightning see another launcher or cluster
FOREIGN = ("LOCAL_RANK", "RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "TORCHELASTIC_RUN_ID", "PL_GLOBAL_SEED",
           "SLURM_NTASKS", "SLURM_JOB_NAME", "OMPI_COMM_WORLD_SIZE", "LSB_JOBID", "KUBERNETES_PORT")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_nodes(tmp_path, num_nodes: int, timeout: float = 120.0) -> list[dict]:
    """Launch ``num_nodes`` single-process nodes; return each rank's record (all killed on failure)."""
    port = _free_port()
    procs, logs = [], []
    try:
        for node in range(num_nodes):
            cfg = dict(model="vae", data="digits", epochs=1, max_steps=STEPS, batch_size=BATCH, lr=1e-3, quiet=True,
                       num_samples=4, devices=1, num_nodes=num_nodes, strategy="ddp",
                       out=str(tmp_path / f"node{node}"), model_options={"hidden": [16], "latent_dim": 2})
            env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
            env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NODE_RANK=str(node),
                       WORLD_SIZE=str(num_nodes), OMP_NUM_THREADS="1")
            log = open(tmp_path / f"node{node}.log", "w")  # a file, not a pipe: a full pipe could stall a rank
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-c", NODE_SCRIPT.format(cfg=repr(cfg)), str(tmp_path)],
                                          cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    tails = "\n".join(f"--- node {i} (exit {p.returncode}) ---\n{(tmp_path / f'node{i}.log').read_text()[-2000:]}"
                      for i, p in enumerate(procs))
    assert all(p.returncode == 0 for p in procs), tails
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(num_nodes)]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_two_nodes_on_localhost_train_one_model_on_disjoint_shards(tmp_path):
    r0, r1 = _run_nodes(tmp_path, num_nodes=2)

    # one process group of two ranks, one per node
    for rank, r in enumerate((r0, r1)):
        assert (r["global_rank"], r["node_rank"]) == (rank, rank)
        assert r["world_size"] == r["dist_world_size"] == 2
        assert r["global_step"] == r["steps"] == STEPS  # max_steps counts optimizer steps, not examples
        assert len(r["seen"]) == STEPS * BATCH  # the batch size is per process

    # DDP: the ranks end with identical weights and report the same (all-reduced) validation metrics
    assert r0["weights"].keys() == r1["weights"].keys()
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), k
    assert r0["metrics"] == r1["metrics"] and "val/elbo" in r0["metrics"]

    # disjoint shards: rows both ranks trained on are only images that digits holds more than once
    counts = Counter(tuple(x.tolist()) for x in load("digits", split="train").x.flatten(1))
    repeated = {row for row, n in counts.items() if n > 1}
    shared = {tuple(x.tolist()) for x in r0["seen"]} & {tuple(x.tolist()) for x in r1["seen"]}
    assert shared <= repeated

    # only rank 0 writes the run's model and report
    assert (tmp_path / "node0" / "model" / "model.safetensors").is_file()
    assert (tmp_path / "node0" / "report.md").is_file()
    assert not (tmp_path / "node1" / "model").exists() and not (tmp_path / "node1" / "report.md").exists()
