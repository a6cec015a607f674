"""Exact resume of the memory network (its linear-start step count, random noise), of a forecaster (its fitted
scaler) and of CTGAN (its conditional sampler): a run killed mid-epoch and resumed ends with the weights of one that
never stopped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from genlab.training import TrainConfig, train

KILL = textwrap.dedent("""
    import os, lightning as L, torch
    from genlab.training import TrainConfig, train

    torch.set_num_threads(1)  # as the test process (conftest): the same summation order, the same floats

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, *a):
            if pl_module.iteration == 6:
                os._exit(9)

    train(TrainConfig(**{cfg}), callbacks=[KillAt()])
""")

CASES = {
    "memn2n": dict(data="babi", data_options={"n_train": 96}, model_options={"embed_dim": 8, "linear_start": 5,
                                                                             "random_noise": 0.2}),
    "forecast-tcn": dict(data="nile", model_options={"hidden": 8}),
    # CTGAN: the conditional sampler's index over the training rows is rebuilt at the restart (at_start)
    "ctgan": dict(data="penguins", model_options={"generator_dims": [16], "discriminator_dims": [16]}),
}


@pytest.mark.parametrize("model", sorted(CASES))
def test_a_run_killed_mid_epoch_resumes_to_identical_weights(tmp_path, model):
    def cfg(out, **kw):
        return TrainConfig(model=model, epochs=-1, max_steps=10, batch_size=16, quiet=True, num_samples=0,
                           out=str(out), **CASES[model], **kw)

    ref = train(cfg(tmp_path / "ref"))
    killed = cfg(tmp_path / "killed", checkpoint_every=3)
    p = subprocess.run([sys.executable, "-c", KILL.format(cfg=repr(killed.to_dict()))], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    resumed = train(killed, resume=True)
    a, b = (load_file(str(r.run_dir / "model" / "model.safetensors")) for r in (ref, resumed))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
