"""The training progress display: iterations of the run (not Lightning's chunks), plain lines off a terminal,
the epoch numbered as the sample files are, the time left when only max_time limits the run."""

import re

import lightning as L
import pytest

from genlab.runs import duration
from genlab.training import TrainConfig, train
from genlab.training import progress as progress_module
from genlab.training.progress import Status

TINY = {"hidden": [16], "latent_dim": 2}
LINE = re.compile(r"^iteration (\d+)(?:/(\d+) \((\d+)%\))?  loss \S+  epoch (\d+)(?: \(0-(\d+)\))?  elapsed \S+")


def _cfg(out, **kw):
    base = dict(model="vae", data="digits", epochs=50, batch_size=256, lr=1e-3, out=str(out), quiet=False,
                num_samples=16, model_options=dict(TINY))
    return TrainConfig(**{**base, **kw})


def _lines(out: str) -> list[re.Match]:
    return [m for m in map(LINE.match, out.splitlines()) if m]


def test_duration_and_status_line_read_as_documented():
    assert [duration(s) for s in (0, 9.4, 65, 3700)] == ["0s", "9s", "1m05s", "1h01m40s"]
    line = Status(iteration=1200, total=8590, loss=98.31, epoch=2, last_epoch=9, elapsed=65, left=380).line()
    assert line == "iteration 1200/8590 (13%)  loss 98.31  epoch 2 (0-9)  elapsed 1m05s  eta 6m20s"
    assert Status(7, None, None, 1, None, 3, None).line() == "iteration 7  epoch 1  elapsed 3s"


@pytest.mark.parametrize("steps_per_call", [1, 4])
def test_off_a_terminal_it_prints_lines_of_iterations_up_to_the_runs_total(tmp_path, capsys, monkeypatch,
                                                                             steps_per_call):
    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)  # a line after every Lightning call
    r = train(_cfg(tmp_path / "run", max_steps=12, steps_per_call=steps_per_call))  # 5 iterations per epoch
    out = capsys.readouterr().out
    assert "\r" not in out and "it/s" not in out
    lines = _lines(out)
    iterations = [int(m[1]) for m in lines]
    assert len(lines) >= 3 and iterations == sorted(iterations) and iterations[-1] == r.steps == 12
    assert {m[2] for m in lines} == {"12"}  # the run's iterations, whatever the chunk size
    assert lines[-1][0].startswith("iteration 12/12 (100%)") and "eta" not in out.splitlines()[-1]
    for m in lines[:-1]:  # the epoch of the last iteration shown: 0-based, as samples/epoch_000.png is epoch 0
        assert int(m[4]) == (int(m[1]) - 1) // 5 and m[5] == "2", m[0]
    assert (r.run_dir / "samples" / "epoch_000.png").is_file() and (r.run_dir / "samples" / "epoch_001.png").is_file()


def test_off_a_terminal_it_writes_one_line_at_the_end_of_a_short_run(tmp_path, capsys):
    train(_cfg(tmp_path / "run", max_steps=3))
    lines = _lines(capsys.readouterr().out)  # under LINE_SECONDS: only the last line
    assert len(lines) == 1 and lines[0][0].startswith("iteration 3/3 (100%)  loss ")


class _StopAt(L.Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, *args):
        trainer.should_stop = trainer.should_stop or trainer.global_step >= self.at


def test_with_only_a_time_limit_it_shows_the_time_left_and_no_total(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)
    train(_cfg(tmp_path / "run", epochs=-1, max_time="1h", steps_per_call=1), callbacks=[_StopAt(3)])
    out = capsys.readouterr().out
    lines = _lines(out)
    assert lines and all(m[2] is None and m[5] is None for m in lines)
    assert re.search(r"^iteration 2  loss \S+  epoch 0  elapsed \d+s  eta (59m\d\ds|1h00m00s)$", out, re.M), out


def test_on_a_terminal_the_bar_counts_iterations_of_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module.IterationProgress, "_terminal", staticmethod(lambda: True))
    train(_cfg(tmp_path / "run", max_steps=12, steps_per_call=4))
    out = capsys.readouterr().out
    assert "12/12" in out and "epoch 2 (0-2)" in out and "loss " in out
    assert not _lines(out)  # the bar, not the lines
