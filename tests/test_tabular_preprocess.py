"""P1–P3 with scikit-learn's transformers: one-hot and ordinal encoding, binning (equal width, quantile, tree,
custom edges), binarization, pipelines fitted on the training data only, the fitted state saved without pickle,
and ``genlab preprocess`` end to end."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    Binarizer,
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier

from genlab.data.tabular.preprocess import EdgeBinner, TreeBinner, column_pipeline, fit_frame, transform_frame
from genlab.data.tabular.state import JSON_NAME, TENSORS_NAME, load_fitted, load_meta, save_fitted
from genlab.errors import ConfigError, LoadError

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]


def penguins(n: int, seed: int) -> pd.DataFrame:
    """A penguins-like table: categories, ordered sizes, measurements, a year and a sex."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "species": rng.choice(SPECIES, n), "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n),
        "size": rng.choice(["S", "M", "L"], n), "body_mass_g": rng.normal(4200, 800, n).round(),
        "flipper_length_mm": rng.normal(200, 14, n).round(1), "bill_depth_mm": rng.normal(17, 2, n).round(1),
        "bill_length_mm": rng.normal(44, 5, n).round(1), "year": rng.choice([2007, 2008, 2009], n),
        "sex": rng.choice(["male", "female"], n),
    })


SPEC = {"onehot": ["species", "island"], "drop_first": True, "ordinal": {"size": ["S", "M", "L"]},
        "bins": {"body_mass_g": {"strategy": "quantile", "n": 4}, "flipper_length_mm": {"strategy": "tree", "n": 4},
                 "bill_depth_mm": {"edges": [15, 18]}},
        "binarize": {"bill_length_mm": 45.0}, "scale": ["year"], "passthrough": ["sex"]}


def fitted_spec(train: pd.DataFrame, spec=SPEC):
    y = (train["flipper_length_mm"] > 205).astype(int)
    return fit_frame(column_pipeline(spec, train.columns), train, y)


# P1 -------------------------------------------------------------------------------------------------------------

def test_onehot_drop_first_gives_n_minus_1_columns_and_the_dropped_category_reconstructs():
    frame = penguins(120, 0)
    out = transform_frame(fit_frame(column_pipeline({"onehot": ["species"], "drop_first": True}), frame), frame)
    assert list(out.columns) == ["species_Chinstrap", "species_Gentoo"]  # 3 categories → 2 columns
    sums = out.sum(axis=1).to_numpy()
    assert set(np.unique(sums)) == {0.0, 1.0}
    # an all-zero row is the dropped (first) category, a one marks its own: the category is recovered exactly
    back = np.where(sums == 0, "Adelie", np.array(["Chinstrap", "Gentoo"])[out.to_numpy().argmax(1)])
    assert (back == frame["species"].to_numpy()).all()


def test_onehot_without_drop_has_one_column_per_category_and_rows_sum_to_one():
    frame = penguins(60, 1)
    out = transform_frame(fit_frame(column_pipeline({"onehot": ["species"]}), frame), frame)
    assert out.shape[1] == 3 and (out.sum(axis=1) == 1).all()


def test_ordinal_encoding_follows_the_given_order_not_the_alphabet():
    frame = pd.DataFrame({"size": ["L", "S", "M", "S"]})
    out = transform_frame(fit_frame(column_pipeline({"ordinal": {"size": ["S", "M", "L"]}}), frame), frame)
    assert out["size"].tolist() == [2, 0, 1, 0]


def test_unseen_category_is_an_all_zero_row_when_ignored():
    train, test = penguins(40, 2), pd.DataFrame({"species": ["Emperor", "Gentoo"]})
    out = transform_frame(fit_frame(column_pipeline({"onehot": ["species"]}), train), test)
    assert out.iloc[0].tolist() == [0, 0, 0] and out.iloc[1].sum() == 1


def test_unseen_category_in_error_mode_names_the_column_and_value():
    fitted = fit_frame(column_pipeline({"onehot": ["species"], "handle_unknown": "error"}), penguins(40, 3))
    with pytest.raises(ConfigError, match=r"column 'species' has value 'Emperor'.*handle_unknown"):
        transform_frame(fitted, pd.DataFrame({"species": ["Adelie", "Emperor"]}))


def test_value_outside_an_ordinal_order_names_the_column_and_value():
    with pytest.raises(ConfigError, match=r"column 'size' has value 'XL'.*order"):
        fit_frame(column_pipeline({"ordinal": {"size": ["S", "M", "L"]}}), pd.DataFrame({"size": ["S", "XL"]}))


# P3 -------------------------------------------------------------------------------------------------------------

def test_equal_width_edges_are_min_plus_k_times_range_over_bins():
    x = np.random.default_rng(4).normal(size=(200, 1))
    k = KBinsDiscretizer(n_bins=5, strategy="uniform", encode="ordinal").fit(x)
    lo, hi = x.min(), x.max()
    np.testing.assert_allclose(k.bin_edges_[0], lo + np.arange(6) * (hi - lo) / 5)


def test_quantile_bins_hold_about_equal_counts():
    frame = penguins(400, 5)
    out = transform_frame(fit_frame(column_pipeline({"bins": {"body_mass_g": {"strategy": "quantile", "n": 4}}}),
                                    frame), frame)
    counts = out["body_mass_g"].value_counts().sort_index().to_numpy()
    assert len(counts) == 4 and counts.min() >= 90 and counts.max() <= 110


def test_kmeans_bins_put_each_of_three_separated_clusters_in_its_own_bin():
    rng = np.random.default_rng(17)
    x = np.concatenate([rng.normal(c, 0.1, 50) for c in (0.0, 5.0, 20.0)])[:, None]
    codes = KBinsDiscretizer(3, strategy="kmeans", encode="ordinal", random_state=0).fit(x).transform(x)[:, 0]
    assert [set(codes[i * 50:(i + 1) * 50]) for i in range(3)] == [{0}, {1}, {2}]


def test_tree_binning_edges_are_the_trees_thresholds_and_separate_a_step_target():
    x = np.random.default_rng(6).uniform(0, 10, size=(300, 1))
    y = (x[:, 0] > 3).astype(int) + (x[:, 0] > 7).astype(int)  # a step function with 3 levels
    binner = TreeBinner(3).fit(x, y)
    tree = DecisionTreeClassifier(max_leaf_nodes=3, random_state=0).fit(x, y)
    t = tree.tree_
    np.testing.assert_array_equal(binner.edges_[0], np.sort(t.threshold[t.feature >= 0]))
    codes = binner.transform(x)[:, 0]
    for b in range(3):  # each bin holds one level of the target only
        assert len(np.unique(y[codes == b])) == 1
    assert len(np.unique(codes)) == 3


def test_tree_binning_needs_the_target():
    with pytest.raises(ConfigError, match="target"):
        TreeBinner(3).fit(np.zeros((5, 1)))


def test_custom_edges_put_a_value_on_an_edge_in_the_bin_above():
    binner = EdgeBinner([15, 18]).fit(np.zeros((1, 1)))
    v = np.array([[14.999], [15.0], [17.999], [18.0], [30.0]])
    assert binner.transform(v)[:, 0].tolist() == [0, 1, 1, 2, 2]
    assert binner.transform(v)[:, 0].tolist() == np.digitize(v[:, 0], [15, 18]).tolist()
    onehot = EdgeBinner([15, 18], encode="onehot").fit(pd.DataFrame({"d": [1.0]}))
    assert list(onehot.get_feature_names_out()) == ["d_0", "d_1", "d_2"]
    assert onehot.transform(pd.DataFrame({"d": [15.0]})).tolist() == [[0, 1, 0]]


def test_binarizer_is_one_only_strictly_above_the_threshold():
    frame = pd.DataFrame({"bill_length_mm": [44.9, 45.0, 45.1]})
    out = transform_frame(fit_frame(column_pipeline({"binarize": {"bill_length_mm": 45.0}}), frame), frame)
    assert out["bill_length_mm"].tolist() == [0, 0, 1]


# P2 -------------------------------------------------------------------------------------------------------------

def test_fitted_on_train_only_the_test_statistics_do_not_leak():
    train, test = penguins(100, 7), penguins(100, 8)
    test["year"] += 50  # a test set far from the training one
    fitted = fitted_spec(train)
    scaler = fitted.named_transformers_["scale"]
    assert scaler.mean_[0] == pytest.approx(train["year"].mean())
    out = transform_frame(fitted, test)
    np.testing.assert_allclose(out["year"], (test["year"] - train["year"].mean()) / train["year"].std(ddof=0))
    assert fitted.named_transformers_["onehot"].categories_[0].tolist() == SPECIES


def test_spec_output_has_readable_names_and_one_row_per_input_row():
    train = penguins(80, 9)
    out = transform_frame(fitted_spec(train), train)
    assert list(out.columns) == ["species_Chinstrap", "species_Gentoo", "island_Dream", "island_Torgersen", "size",
                                 "body_mass_g", "flipper_length_mm", "bill_depth_mm", "bill_length_mm", "year", "sex"]
    assert len(out) == 80 and out["sex"].tolist() == train["sex"].tolist()


@pytest.mark.parametrize(("spec", "message"), [
    ({"onehot": ["beak"]}, r"'beak'.*its columns: species, island"),
    ({"bins": {"body_mass_g": {"strategy": "magic", "n": 3}}}, r"unknown strategy 'magic'.*uniform, quantile"),
    ({"onehot": ["species"], "scale": ["species"]}, r"'species' is named twice in the spec \(onehot and scale\)"),
    ({"bins": {"body_mass_g": {"strategy": "uniform", "n": 1}}}, r"n must be a whole number ≥ 2"),
    ({"colour": ["species"]}, r"unknown keys.*colour"),
])
def test_bad_spec_is_a_config_error_that_says_what_to_do(spec, message):
    with pytest.raises(ConfigError, match=message):
        column_pipeline(spec, penguins(5, 0).columns)


# state: save → load without pickle ------------------------------------------------------------------------------

def _estimators():
    """Each savable class, fitted, with the data to transform after loading."""
    x = np.random.default_rng(10).normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(int)
    cats = pd.DataFrame({"a": np.random.default_rng(11).choice(["p", "q", "r"], 60), "b": ["u", "v"] * 30})
    held = np.random.default_rng(12).normal(size=(20, 2)) * 2
    return [
        ("scaler", StandardScaler().fit(x), held),
        ("onehot", OneHotEncoder(drop="first", handle_unknown="ignore").fit(cats), cats.iloc[::-1]),
        ("onehot-infrequent", OneHotEncoder(min_frequency=25, handle_unknown="infrequent_if_exist",
                                            sparse_output=False).fit(cats), cats.iloc[::3]),
        ("ordinal", OrdinalEncoder(categories=[["r", "q", "p"], ["v", "u"]]).fit(cats), cats.iloc[5:]),
        ("kbins-uniform", KBinsDiscretizer(4, strategy="uniform", encode="ordinal").fit(x), held),
        ("kbins-onehot", KBinsDiscretizer(3, strategy="quantile", quantile_method="linear").fit(x), held),
        ("kbins-kmeans", KBinsDiscretizer(3, strategy="kmeans", encode="onehot-dense", random_state=0).fit(x), held),
        ("binarizer", Binarizer(threshold=0.3).fit(x), held),
        ("identity", FunctionTransformer(feature_names_out="one-to-one").fit(x), held),
        ("tree", TreeBinner(4, encode="onehot").fit(x, y), held),
        ("edges", EdgeBinner([-1.0, 0.0, 1.0]).fit(x), held),
        ("pipeline", Pipeline([("s", StandardScaler()), ("k", KBinsDiscretizer(3, encode="ordinal"))]).fit(x), held),
    ]


def _same_output(a, b, data) -> None:
    out_a, out_b = a.transform(data), b.transform(data)
    if hasattr(out_a, "toarray"):
        out_a, out_b = out_a.toarray(), out_b.toarray()
    np.testing.assert_array_equal(np.asarray(out_a), np.asarray(out_b))
    np.testing.assert_array_equal(a.get_feature_names_out(), b.get_feature_names_out())


@pytest.mark.parametrize(("name", "estimator", "held"), _estimators(), ids=[e[0] for e in _estimators()])
def test_save_load_transforms_held_out_data_identically(tmp_path, name, estimator, held):
    save_fitted(estimator, tmp_path)
    loaded = load_fitted(tmp_path)
    assert type(loaded) is type(estimator) and set(vars(loaded)) == set(vars(estimator))
    _same_output(estimator, loaded, held)
    assert sorted(p.name for p in tmp_path.iterdir()) == [JSON_NAME, TENSORS_NAME]


def test_save_load_of_a_full_column_pipeline_is_identical_and_writes_no_pickle(tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    train, test = penguins(150, 13), penguins(60, 14)
    fitted = fitted_spec(train, {**SPEC, "remainder": "passthrough", "passthrough": []})
    monkeypatch.setattr(pickle, "dump", refuse)
    monkeypatch.setattr(pickle, "dumps", refuse)
    save_fitted(fitted, tmp_path, meta={"target": "y"})
    loaded = load_fitted(tmp_path)
    pd.testing.assert_frame_equal(transform_frame(fitted, test), transform_frame(loaded, test))
    assert list(loaded.get_feature_names_out()) == list(fitted.get_feature_names_out())
    assert load_meta(tmp_path) == {"target": "y"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [JSON_NAME, TENSORS_NAME]


def test_saving_a_class_outside_the_whitelist_is_refused_and_writes_nothing(tmp_path):
    pca = PCA(1).fit(np.random.default_rng(0).normal(size=(10, 2)))
    with pytest.raises(ConfigError, match=r"cannot save .*PCA: only these classes can be saved.*StandardScaler"):
        save_fitted(Pipeline([("s", StandardScaler()), ("p", pca)]), tmp_path / "state")
    assert not (tmp_path / "state").exists()
    with pytest.raises(ConfigError, match="FunctionTransformer"):
        save_fitted(FunctionTransformer(np.log1p).fit(np.ones((2, 1))), tmp_path / "state")


def test_saving_an_unfitted_estimator_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not fitted"):
        save_fitted(StandardScaler(), tmp_path)


def test_a_half_written_state_is_refused(tmp_path):
    x = np.random.default_rng(1).normal(size=(20, 2))
    save_fitted(StandardScaler().fit(x), tmp_path)
    # a second save cut short after the tensors: new tensors beside the old JSON
    save_fitted(StandardScaler().fit(x + 5), tmp_path / "other")
    (tmp_path / TENSORS_NAME).write_bytes((tmp_path / "other" / TENSORS_NAME).read_bytes())
    with pytest.raises(LoadError, match="does not match"):
        load_fitted(tmp_path)
    (tmp_path / JSON_NAME).unlink()  # or cut short before the JSON of a first save
    with pytest.raises(LoadError, match="save was cut short"):
        load_fitted(tmp_path)


def test_a_state_naming_a_foreign_class_is_not_loaded(tmp_path):
    save_fitted(Binarizer().fit(np.ones((2, 1))), tmp_path)
    doc = json.loads((tmp_path / JSON_NAME).read_text())
    doc["estimator"]["class"] = "os.system"
    (tmp_path / JSON_NAME).write_text(json.dumps(doc))
    with pytest.raises(LoadError, match="does not load"):
        load_fitted(tmp_path)


def test_column_transformer_bookkeeping_survives_a_round_trip(tmp_path):
    frame = penguins(50, 15)
    ct = ColumnTransformer([("s", StandardScaler(), ["year"]), ("p", "passthrough", ["body_mass_g"])],
                           remainder="drop").fit(frame)
    save_fitted(ct, tmp_path)
    loaded = load_fitted(tmp_path)
    assert loaded.output_indices_ == ct.output_indices_ and loaded._columns == ct._columns
    _same_output(ct, loaded, penguins(10, 16))


# CLI ------------------------------------------------------------------------------------------------------------

def test_cli_fits_on_train_applies_to_test_and_a_saved_state_reapplies(tmp_path):
    from typer.testing import CliRunner

    from genlab.cli.main import app

    train, test = penguins(120, 17), penguins(40, 18)
    train["heavy"] = (train["body_mass_g"] > 4200).astype(int)
    test["heavy"] = (test["body_mass_g"] > 4200).astype(int)
    train.to_csv(tmp_path / "train_raw.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "spec.yaml").write_text(
        "onehot: [species, island]\ndrop_first: true\nordinal: {size: [S, M, L]}\n"
        "bins:\n  body_mass_g: {strategy: quantile, n: 4}\n  flipper_length_mm: {strategy: tree, n: 3}\n"
        "  bill_depth_mm: {edges: [15, 18]}\nbinarize: {bill_length_mm: 45.0}\nscale: [year]\n")
    out = tmp_path / "out"
    runner = CliRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = runner.invoke(app, ["preprocess", str(tmp_path / "train_raw.csv"), "--spec", str(tmp_path / "spec.yaml"),
                                "--target", "heavy", "--apply", str(tmp_path / "test.csv"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "output columns (10): species_Chinstrap, species_Gentoo" in r.output
    written = pd.read_csv(out / "test.csv")
    assert list(written.columns)[-1] == "heavy" and len(written) == 40
    assert pd.read_csv(out / "train.csv")["year"].mean() == pytest.approx(0, abs=1e-9)  # scaled by train only
    assert sorted(p.name for p in (out / "preprocess").iterdir()) == [JSON_NAME, TENSORS_NAME]

    r = runner.invoke(app, ["preprocess", "--load", str(out / "preprocess"), "--apply", str(tmp_path / "test.csv"),
                            "--out", str(tmp_path / "again")])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again" / "test.csv"), written)

    r = runner.invoke(app, ["preprocess", str(tmp_path / "test.csv"), "--spec", str(tmp_path / "spec.yaml"),
                            "--out", str(tmp_path / "bad")])
    assert r.exit_code == 2 and "target" in r.output  # tree binning without --target: one line, what to do
