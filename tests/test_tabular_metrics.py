"""G10 (issue 27): synthetic tables judged by fidelity (SDMetrics' QualityReport), utility (train on synthetic, test on
real) and privacy (distance to the closest record, membership inference), from frames — and by ``genlab eval``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genlab.data import load
from genlab.data.tabular.frame import encode_frame, to_frame
from genlab.errors import ConfigError
from genlab.metrics.tabular import encode_rows, fidelity, judge, nearest, privacy, utility

NUM = {"type": "numeric", "categories": []}


def _frame(split: str) -> pd.DataFrame:
    d = load("cars", split=split)
    return to_frame(d.meta["columns"], d.fields["numeric"], d.fields["categorical"])


@pytest.fixture(scope="module")
def cars():
    return _frame("train"), _frame("test"), load("cars", split="train").meta["columns"]


def _independent_columns(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column shuffled on its own: the same marginals, no dependence between columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})


def _signal_table(n: int, seed: int) -> tuple[pd.DataFrame, list[dict]]:
    """x0, x1 ~ N(0, 1), a colour, and y = "hi" when x0 + x1 > 1 (a minority) else "lo": y follows the columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "colour": rng.choice(["red", "green", "blue"], n),
                          "y": np.where(x.sum(1) > 1, "hi", "lo")})
    columns = [{"name": "x0", **NUM}, {"name": "x1", **NUM},
               {"name": "colour", "type": "categorical", "categories": ["blue", "green", "red"]},
               {"name": "y", "type": "categorical", "categories": ["hi", "lo"]}]
    return frame, columns


# --- fidelity --------------------------------------------------------------------------------------------------
def test_fidelity_of_a_table_against_itself_is_one_and_independent_columns_lose_the_pair_trends(cars):
    train, _, columns = cars
    same = fidelity(train, train, columns)
    assert same["fidelity"] == pytest.approx(1.0) and same["fidelity_column_shapes"] == pytest.approx(1.0)
    assert same["fidelity_column_pair_trends"] == pytest.approx(1.0)
    shuffled = fidelity(train, _independent_columns(train), columns)
    assert shuffled["fidelity_column_shapes"] == pytest.approx(1.0)  # the marginals are untouched
    assert shuffled["fidelity_column_pair_trends"] < 0.8  # cars' columns are strongly correlated
    assert shuffled["fidelity"] < same["fidelity"] - 0.1


def test_fidelity_reads_datetime_and_boolean_columns_as_sdmetrics_sdtypes():
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"day": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
                          "rain": rng.random(n) < 0.3, "temp": rng.normal(15, 5, n).round(1)})
    columns, numeric, categorical = encode_frame(frame, {"day": "datetime", "rain": "boolean", "temp": "numeric"})
    decoded = to_frame(columns, numeric, categorical)
    assert fidelity(decoded, decoded, columns)["fidelity"] == pytest.approx(1.0)
    later = decoded.assign(day=decoded["day"] + pd.Timedelta(days=200))  # dates shifted by most of their range
    assert fidelity(decoded, later, columns)["fidelity_column_shapes"] < 0.85  # KS ≈ 0.55 on one column of three


# --- utility ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["Origin", "Miles_per_Gallon"])
def test_train_on_the_real_training_rows_as_synthetic_equals_train_on_real(cars, target):
    train, test, columns = cars
    u = utility(train, test, train, columns, target)
    key = "f1" if target == "Origin" else "r2"
    assert u["utility_target"] == target and u[f"tstr_{key}"] == u[f"trtr_{key}"] and u["tstr_ratio"] == 1.0
    assert u["utility_task"] == ("classification" if target == "Origin" else "regression")
    assert u["trtr_f1" if target == "Origin" else "trtr_r2"] > 0.5


def test_a_synthetic_table_of_noise_gets_far_lower_utility_and_a_binary_target_reports_its_minority_f1():
    train, columns = _signal_table(2000, 0)
    test, _ = _signal_table(1000, 1)
    rng = np.random.default_rng(2)
    noise = pd.DataFrame({"x0": rng.uniform(-3, 3, 2000), "x1": rng.uniform(-3, 3, 2000),
                          "colour": rng.choice(["red", "green", "blue"], 2000), "y": rng.choice(["hi", "lo"], 2000)})
    u = utility(train, test, noise, columns)  # the target: the last categorical column
    assert u["utility_target"] == "y" and u["utility_positive"] == "hi"  # x0 + x1 > 1: ~24 % of rows
    assert u["trtr_f1"] > 0.9 and u["tstr_f1"] < u["trtr_f1"] - 0.3 and u["tstr_ratio"] < 0.7
    from sklearn.metrics import f1_score

    same = utility(train, test, train, columns)
    assert same["trtr_f1_positive"] == same["tstr_f1_positive"] > 0.85
    assert 0 < u["tstr_f1_positive"] < f1_score(test["y"], test["y"], pos_label="hi")


def test_a_synthetic_table_missing_a_class_of_the_target_is_judged_without_crashing(cars):
    train, test, columns = cars
    two = train[train["Origin"] != "Europe"]
    u = utility(train, test, two, columns, "Origin")
    assert 0 < u["tstr_f1"] < u["trtr_f1"]
    one = train[train["Origin"] == "USA"]  # a classifier that saw one class says it always
    u1 = utility(train, test, one, columns, "Origin")
    assert u1["tstr_accuracy"] == pytest.approx((test["Origin"] == "USA").mean())


def test_a_missing_target_column_is_an_error_that_lists_the_columns(cars):
    train, test, columns = cars
    with pytest.raises(ConfigError, match=r"'mpg' is not a column .*Miles_per_Gallon, Cylinders.*Origin"):
        utility(train, test, train, columns, "mpg")
    with pytest.raises(ConfigError, match=r"synthetic frame lacks the column\(s\) 'Origin'"):
        utility(train, test, train.drop(columns="Origin"), columns, "Cylinders")


# --- privacy ---------------------------------------------------------------------------------------------------
def test_rows_are_encoded_so_that_a_category_counts_as_one_training_std():
    frame = pd.DataFrame({"v": [0.0, 2.0, 4.0, 2.0], "c": ["a", "b", "a", "z"]})
    columns = [{"name": "v", **NUM}, {"name": "c", "type": "categorical", "categories": ["a", "b"]}]
    rows = encode_rows(frame, columns, frame)
    std = np.std([0.0, 2.0, 4.0, 2.0])
    assert rows[:, 0].tolist() == pytest.approx([(v - 2.0) / std for v in (0, 2, 4, 2)])
    assert float((rows[0, 1:] - rows[1, 1:]).pow(2).sum()) == pytest.approx(1.0)  # a ≠ b: +1 to d²
    assert rows[3, 1:].tolist() == [0.0, 0.0]  # outside the spec
    d, back = nearest(rows[:2], rows[[0, 2]])
    assert d[0] == 0.0 and back.tolist() == pytest.approx([0.0, float((rows[1] - rows[2]).norm())])  # √(2 + 1)


def test_exact_copies_of_the_training_rows_have_distance_zero_and_give_membership_away():
    train, columns = _signal_table(600, 0)
    holdout, _ = _signal_table(600, 1)
    p = privacy(train, holdout, train, columns)
    assert p["privacy_dcr_median"] == 0.0 and p["privacy_dcr_p5"] == 0.0 and p["privacy_exact"] == 1.0
    assert p["privacy_close_share"] == 1.0 and p["privacy_dcr_ratio"] == 0.0
    assert p["privacy_mia_auroc"] > 0.99 and p["privacy_dcr_median_holdout"] > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_independent_draws_of_the_same_distribution_leak_nothing(seed):
    train, columns = _signal_table(2000, 10 * seed)
    holdout, _ = _signal_table(1000, 10 * seed + 1)
    fake, _ = _signal_table(2000, 10 * seed + 2)
    p = privacy(train, holdout, fake, columns, seed=seed)
    assert abs(p["privacy_mia_auroc"] - 0.5) < 0.04  # the AUROC's null std at 1000 + 1000 rows: ~0.013
    assert p["privacy_mia_n"] == 1000  # members subsampled to the holdout's size
    assert p["privacy_dcr_ratio"] == pytest.approx(1.0, abs=0.1)
    assert p["privacy_close_share"] == pytest.approx(0.05, abs=0.02) and p["privacy_exact"] == 0.0


# --- other tables and all three at once ---------------------------------------------------------------------------
def test_categorical_only_and_numeric_only_tables_are_judged_all_three_ways():
    rng = np.random.default_rng(0)
    n = 400
    a = rng.choice(["x", "y"], n)
    cat = pd.DataFrame({"a": a, "b": np.where(rng.random(n) < 0.9, a, "z")})
    cat_columns = [{"name": "a", "type": "categorical", "categories": ["x", "y"]},
                   {"name": "b", "type": "categorical", "categories": ["x", "y", "z"]}]
    out = judge(cat.iloc[:300], cat.iloc[300:], cat.iloc[:300], cat_columns)
    assert out["utility_target"] == "b" and out["tstr_ratio"] == 1.0 and out["fidelity"] == pytest.approx(1.0)
    assert out["privacy_exact"] == 1.0 and out["privacy_exact_holdout"] == 1.0  # 6 distinct rows: all repeat
    assert {"fidelity_seconds", "utility_seconds", "privacy_seconds"} <= set(out)
    x = rng.normal(size=(n, 2))
    num = pd.DataFrame({"u": x[:, 0], "v": x[:, 0] + 0.1 * x[:, 1]})
    num_columns = [{"name": "u", **NUM}, {"name": "v", **NUM}]
    out = judge(num.iloc[:300], num.iloc[300:], _independent_columns(num.iloc[:300]), num_columns)
    assert out["utility_target"] == "v" and out["utility_task"] == "regression"
    assert out["trtr_r2"] > 0.9 and out["tstr_r2"] < 0.2  # independent columns carry no v from u
    assert out["fidelity_column_shapes"] == pytest.approx(1.0) and out["fidelity_column_pair_trends"] < 0.6


# --- genlab eval ---------------------------------------------------------------------------------------------------
def test_genlab_eval_writes_fidelity_utility_and_privacy_of_a_table_model_into_eval_json(tmp_path):
    from genlab.cli.main import app
    from genlab.evaluation.tabular import synthetic_frame
    from genlab.training import TrainConfig, train

    run = tmp_path / "run"
    result = train(TrainConfig(model="table-marginals", data="cars", epochs=2, quiet=True, out=str(run)))
    res = CliRunner().invoke(app, ["eval", str(run), "--metrics", "fidelity,utility,privacy", "--target", "Cylinders"])
    assert res.exit_code == 0, res.output
    figures = json.loads((run / "eval.json").read_text())
    assert figures["fidelity_n_synthetic"] == figures["privacy_n_train"] == 314  # n: as many as the training rows
    assert 0 < figures["fidelity"] < 1 and figures["fidelity_column_pair_trends"] < 0.8  # independent marginals
    assert figures["utility_target"] == "Cylinders" and figures["tstr_f1"] < figures["trtr_f1"]
    assert 0 <= figures["privacy_mia_auroc"] <= 1 and figures["privacy_exact"] == 0.0
    assert all(math.isfinite(figures[f"{m}_seconds"]) for m in ("fidelity", "utility", "privacy"))
    res = CliRunner().invoke(app, ["eval", str(run), "--metrics", "privacy", "--n", "50"])
    assert res.exit_code == 0 and json.loads((run / "eval.json").read_text())["privacy_n_synthetic"] == 50
    columns = load("cars", split="train").meta["columns"]
    big = synthetic_frame(result.model, columns, 7000, seed=3)  # two sample calls, one seeded generator
    assert len(big) == 7000 and big.equals(synthetic_frame(result.model, columns, 7000, seed=3))
    assert set(big["Origin"]) <= {"Europe", "Japan", "USA"}
