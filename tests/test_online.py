"""F7, the online half: chunk streams, the online classifier's running standardization, prequential evaluation
(every chunk predicted before it is learned) and batch vs online learning on a drifting stream."""

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data.tabular.stream import csv_chunks, csv_stream, digits_stream, sea_stream
from genlab.errors import ConfigError
from genlab.evaluation.online import BatchOnce, default_learners, prequential, prequential_all
from genlab.models.online import OnlineClassifier, OnlineConfig, RunningMoments


class Lookup:
    """Remembers the label of every key (x[:, 0]) it has been trained on; −1 for a key it has not seen."""

    name = "lookup"

    def __init__(self):
        self.table = {}

    def predict(self, x):
        return np.array([self.table.get(float(k), -1) for k in x[:, 0]])

    def update(self, x, y):
        self.table.update(zip(x[:, 0].tolist(), y.tolist(), strict=True))


def _chunks(keys_per_chunk):
    return [(np.array(k, dtype=np.float32)[:, None], np.ones(len(k), dtype=np.int64)) for k in keys_per_chunk]


def test_prequential_predicts_each_chunk_before_learning_it():
    fresh = prequential(Lookup(), _chunks([[1, 2], [3, 4, 5], [6]]))
    assert fresh.accuracy.tolist() == [0, 0, 0]  # a memorizer scores nothing on keys it is only then shown
    again = prequential(Lookup(), _chunks([[1, 2], [1, 2], [2, 7, 8, 9]]))
    assert again.accuracy.tolist() == [0, 1, 0.25]
    assert again.rows.tolist() == [2, 4, 8]
    np.testing.assert_allclose(again.cumulative, [0, 0.5, 3 / 8])
    assert again.mean_accuracy(2, 4) == 1.0 and again.mean_accuracy(4) == 0.25


def test_batch_model_is_trained_once_on_the_first_chunks_and_has_no_predictions_before():
    s = sea_stream(3000, 500, seed=1)
    batch = BatchOnce(OnlineClassifier(OnlineConfig(n_features=3, num_classes=2)), k=2, epochs=5)
    r = prequential(batch, s)
    assert np.isnan(r.accuracy[:2]).all() and not np.isnan(r.accuracy[2:]).any()
    w = batch.model.net[0].weight.clone()
    batch.update(*next(iter(s)))
    assert torch.equal(w, batch.model.net[0].weight)  # frozen after its one training
    assert r.mean_accuracy() == r.mean_accuracy(1000)


def test_sea_labels_follow_f1_plus_f2_below_theta_and_theta_switches_at_the_drift():
    s = sea_stream(4000, 300, seed=3, drift_at=0.25, thresholds=(7.0, 9.5), noise=0.0)
    assert s.drift_rows == (1000,)
    x = np.concatenate([c[0] for c in s])
    y = np.concatenate([c[1] for c in s])
    assert x.shape == (4000, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= 0 and x.max() <= 10
    theta = np.where(np.arange(4000) < 1000, 7.0, 9.5)
    np.testing.assert_array_equal(y, (x[:, 0] + x[:, 1] <= theta).astype(np.int64))
    noisy = np.concatenate([c[1] for c in sea_stream(4000, 300, seed=3, drift_at=0.25, noise=0.1)])
    assert 0.08 < (noisy != y).mean() < 0.12  # the same points, 10 % of labels flipped


def test_streams_are_seeded_and_deterministic():
    for make in (sea_stream, digits_stream):
        a, b, c = make(1200, 500, seed=0), make(1200, 500, seed=0), make(1200, 500, seed=1)
        sizes = [len(y) for _, y in a]
        assert sizes == [500, 500, 200]
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
        assert not np.array_equal(next(iter(a))[0], next(iter(c))[0])
        assert np.array_equal(next(iter(a))[0], next(iter(a))[0])  # a Stream restarts when iterated again


def test_digits_stream_mirrors_the_images_from_the_drift_on_and_keeps_their_labels():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    plain = {row.tobytes(): t for row, t in zip(bunch.images.reshape(-1, 64).astype(np.float32), bunch.target,
                                               strict=True)}
    mirrored = {row.tobytes(): t for row, t in zip(
        bunch.images[:, :, ::-1].reshape(-1, 64).astype(np.float32), bunch.target, strict=True)}
    s = digits_stream(1000, 250, seed=0, drift_at=0.5)
    x = np.concatenate([c[0] for c in s])
    y = np.concatenate([c[1] for c in s])
    assert s.drift_rows == (500,) and x.shape == (1000, 64)
    assert all(plain.get(r.tobytes()) == t for r, t in zip(x[:500], y[:500], strict=True))
    after = [mirrored.get(r.tobytes()) == t for r, t in zip(x[500:], y[500:], strict=True)]
    assert all(after)
    assert not all(plain.get(r.tobytes()) == t for r, t in zip(x[500:], y[500:], strict=True))


def _table(tmp_path, n=23):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n).round(3), "island": rng.choice(["Biscoe", "Dream"], n),
                       "b": rng.integers(0, 9, n), "species": rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)})
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return df, path


def test_chunked_csv_reader_equals_reading_the_whole_file(tmp_path):
    df, path = _table(tmp_path)
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    chunks = list(csv_chunks(path, "species", 5, categories={"island": ["Biscoe", "Dream"]}, classes=classes))
    assert [len(y) for _, y in chunks] == [5, 5, 5, 5, 3]
    x = np.concatenate([c[0] for c in chunks])
    y = np.concatenate([c[1] for c in chunks])
    whole = pd.read_csv(path)
    expect = np.column_stack([whole["a"], whole["b"], whole["island"] == "Biscoe", whole["island"] == "Dream"])
    np.testing.assert_array_equal(x, expect.astype(np.float32))
    np.testing.assert_array_equal(y, whole["species"].map({c: i for i, c in enumerate(classes)}).to_numpy())
    assert x.dtype == np.float32 and y.dtype == np.int64
    s = csv_stream(path, "species", 5, categories={"island": ["Biscoe", "Dream"]})
    assert s.classes == tuple(classes) and s.n_features == 4  # classes read up front, sorted


def test_csv_errors_say_what_and_where(tmp_path):
    df, path = _table(tmp_path)
    with pytest.raises(ConfigError, match=r"no label column 'kind'.*\['a', 'island', 'b', 'species'\]"):
        next(csv_chunks(path, "kind", 5))
    with pytest.raises(ConfigError, match=r"line 2: column 'island' holds '(Biscoe|Dream)', not a number"):
        next(csv_chunks(path, "species", 5, classes=["Adelie", "Chinstrap", "Gentoo"]))
    df["b"] = df["b"].astype(object)
    df.loc[13, "b"] = "seven"  # the 14th row: line 15 of the file, in the third chunk
    df.to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"t\.csv, line 15: column 'b' holds 'seven', not a number"):
        list(csv_chunks(path, "species", 5, features=["a", "b"], classes=["Adelie", "Chinstrap", "Gentoo"]))
    with pytest.raises(ConfigError, match=r"line 2: column 'island' holds .* not one of its declared categories"):
        next(csv_chunks(path, "species", 5, features=["a"], categories={"island": ["Torgersen"]},
                        classes=["Adelie", "Chinstrap", "Gentoo"]))
    with pytest.raises(ConfigError, match=r"line \d+: label 'species' is 'Gentoo', not one of the declared classes"):
        list(csv_chunks(path, "species", 5, features=["a"], classes=["Adelie", "Chinstrap"]))
    with pytest.raises(ConfigError, match=r"not a class index 0, 1, \.\.\.: declare the classes"):
        next(csv_chunks(path, "species", 5, features=["a"]))
    with pytest.raises(ConfigError, match="no CSV file"):
        next(csv_chunks(tmp_path / "missing.csv", "species"))
    with pytest.raises(ConfigError, match="drift_at must be increasing fractions"):
        sea_stream(100, 10, drift_at=1.5)


def test_welford_moments_equal_the_batch_mean_and_std():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 5.0, size=(n, 4)) * [1, 10, 0.1, 0] for n in (1, 7, 50, 3, 200)]
    m = RunningMoments(4)
    for c in chunks:
        m.update(torch.from_numpy(c))
    whole = np.concatenate(chunks)
    np.testing.assert_allclose(m.mean.numpy(), whole.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.std.numpy(), whole.std(0), rtol=1e-10, atol=1e-12)
    z = m.normalize(torch.from_numpy(whole))
    np.testing.assert_allclose(z[:, :3].mean(0).numpy(), 0, atol=1e-9)
    assert torch.equal(z[:, 3], torch.zeros(len(whole), dtype=torch.float64))  # no spread: only centred


def test_online_model_recovers_after_the_drift_while_the_batch_model_does_not():
    torch.set_num_threads(1)
    s = sea_stream(8000, 400, seed=0, drift_at=0.5)
    online, sgd, batch = prequential_all(default_learners(3, 2, seed=0, batch_chunks=3), s)
    late = 6000  # the last quarter: well after the drift at row 4000
    assert batch.mean_accuracy(0, 4000) > 0.82  # the batch model was good on its concept
    assert batch.mean_accuracy(late) < 0.8  # ... and stays wrong on the new one
    assert online.mean_accuracy(late) > batch.mean_accuracy(late) + 0.08
    assert online.mean_accuracy(late) > 0.82  # near the 0.9 that 10 % label noise allows
    assert sgd.mean_accuracy(late) > 0.6 and sgd.name == "sklearn SGDClassifier"  # its default steps are noisy


def test_online_classifier_config_and_inputs_are_checked():
    with pytest.raises(ConfigError, match="lr must be > 0"):
        OnlineConfig(lr=0)
    with pytest.raises(ConfigError, match="num_classes must be ≥ 2"):
        OnlineConfig(num_classes=1)
    model = OnlineClassifier(n_features=3, num_classes=2)
    with pytest.raises(ValueError, match=r"labels must be class indices 0\.\.1"):
        model.update(np.zeros((4, 3), np.float32), np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"expected x of shape \(B, 3\)"):
        model.predict(np.zeros((4, 5), np.float32))
    p = model.predict_proba(np.ones((4, 3), np.float32))
    torch.testing.assert_close(p.sum(-1), torch.ones(4))
    assert model.predict(np.ones((4, 3), np.float32)).dtype == torch.int64


def test_cli_writes_the_prequential_csv_and_plot(tmp_path):
    r = CliRunner().invoke(app, ["online", "--out", str(tmp_path), "--rows", "3000", "--chunk", "500",
                                 "--batch-chunks", "2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "before drift" in r.output and "batch (first 2 chunks)" in r.output
    table = pd.read_csv(tmp_path / "prequential.csv")
    assert list(table.columns) == ["chunk", "rows", "genlab online", "sklearn SGDClassifier",
                                   "batch (first 2 chunks)"]
    assert table["rows"].tolist() == [500, 1000, 1500, 2000, 2500, 3000]
    assert table["batch (first 2 chunks)"].isna().tolist() == [True, True, False, False, False, False]
    assert (tmp_path / "prequential.png").read_bytes()[:4] == b"\x89PNG"
    import genlab  # model/: the online learner as the stream left it, the same as the Python API's

    saved = genlab.load(tmp_path / "model")
    learners = default_learners(3, 2, seed=0, batch_chunks=2)
    prequential_all(learners, sea_stream(3000, 500, 0, drift_at=0.5))
    for (name, v), w in zip(learners[0].model.state_dict().items(), saved.state_dict().values(), strict=True):
        assert torch.equal(v, w), name
    bad = CliRunner().invoke(app, ["online", "--out", str(tmp_path), "--stream", "nope"])
    assert bad.exit_code == 2 and "unknown stream 'nope'" in bad.output


def test_the_cli_one_hots_the_categorical_columns_it_is_told_of(tmp_path):
    rng = np.random.default_rng(0)
    n = 1200
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n)
    x = rng.normal(size=n)
    y = ((island == "Dream") ^ (x > 0)).astype(int)  # the label needs the category
    path = tmp_path / "s.csv"
    pd.DataFrame({"x": x, "island": island, "y": y}).to_csv(path, index=False)
    base = ["online", "--stream", str(path), "--label", "y", "--chunk", "200", "--batch-chunks", "1"]
    numeric_only = CliRunner().invoke(app, base + ["--out", str(tmp_path / "a")])
    assert numeric_only.exit_code == 2 and "island" in numeric_only.output and "categor" in numeric_only.output
    r = CliRunner().invoke(app, base + ["--out", str(tmp_path / "b"), "--categorical", "island"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b" / "prequential.csv").is_file()
    missing = CliRunner().invoke(app, base + ["--out", str(tmp_path / "c"), "--categorical", "colour"])
    assert missing.exit_code == 2 and "no column 'colour'" in missing.output


def test_a_saved_online_learner_continues_the_stream_exactly_as_if_it_never_stopped(tmp_path):
    import genlab

    g = torch.Generator().manual_seed(0)
    chunks = [(torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)) for _ in range(6)]
    for optimizer, updates_before in (("adam", 3), ("sgd", 3), ("adam", 0)):
        a = OnlineClassifier(n_features=4, num_classes=3, hidden=8, optimizer=optimizer, batch_size=16)
        for x, y in chunks[:updates_before]:
            a.update(x, y)
        folder = a.save_pretrained(tmp_path / f"{optimizer}{updates_before}")
        b = genlab.load(folder)
        assert isinstance(b, OnlineClassifier) and b.config == a.config
        weights_only = OnlineClassifier(a.config)  # the modules' tensors alone: the optimizer starts afresh
        weights_only.net.load_state_dict(a.net.state_dict())
        weights_only.moments.load_state_dict(a.moments.state_dict())
        for x, y in chunks[updates_before:]:
            a.update(x, y), b.update(x, y), weights_only.update(x, y)
        for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(pa, pb), name
        if optimizer == "adam" and updates_before:  # what the saved optimizer state is for
            assert not torch.equal(a.net[0].weight, weights_only.net[0].weight)
