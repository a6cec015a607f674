"""`genlab gallery`: a card per run grouped by family, standalone images, working links, no crash on bad runs."""

import json
import re
import subprocess
import sys

import pytest
from pages import fake_run, links
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.errors import ConfigError
from genlab.gallery import family, write_gallery

CSV = "epoch,step,train/loss,val/loss,val/b,val/a\n0,9,3.0,,,\n0,9,,2.5,0.5,7.0\n1,19,2.0,,,\n1,19,,1.25,0.25,6.0\n"
#: what a finished run writes at its end (genlab.runs.write_summary)
SUMMARY = {"model": "vae", "data": "mnist", "iterations": 20, "seconds": 75.0,
           "metrics": {"val/loss": 1.25, "val/b": 0.25, "val/a": 6.0}, "monitor": "val/b",
           "default_metric": ["elbo"], "panels": [["loss", ["loss"]]]}


def _families(html: str) -> dict[str, list[str]]:
    """Family title → the run names on its cards, in page order."""
    out = {}
    for section in re.findall(r'<section class="family">(.*?)</section>', html, re.S):
        title = re.search(r"<h2>(.*?) <span", section).group(1)
        out[title] = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h3>(.*?)</h3>", section)]
    return out


def _card(html: str, name: str) -> str:
    return re.search(rf"<h3>(?:<a [^>]+>)?{name}(?:</a>)?</h3>(.*?)</article>", html, re.S).group(1)


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    fake_run(root / "vae-1", "vae", "mnist", metrics=CSV, progress={"iteration": 20, "finished": True},
             summary=SUMMARY)
    fake_run(root / "cvae-1", "cvae", "mnist", metrics=CSV)
    fake_run(root / "gan-1", "gan", "ring8", metrics=CSV)
    fake_run(root / "lm-1", "lstm-lm", "kjv", metrics=CSV, sample=".txt")
    fake_run(root / "ddpm-crashed", "ddpm", "mnist", sample=None, progress={"iteration": 3, "finished": False})
    return root


def test_cards_are_grouped_by_family(runs, tmp_path):
    html = write_gallery(runs, tmp_path / "gallery").read_text()
    assert _families(html) == {"VAEs": ["cvae-1", "vae-1"], "Diffusion models": ["ddpm-crashed"], "GANs": ["gan-1"],
                               "Text models": ["lm-1"]}


def test_family_comes_from_the_models_module():
    assert (family("beta-vae"), family("wgan-gp"), family("vdm"), family("pca"), family("seq2seq-rnn")) == (
        "VAEs", "GANs", "Diffusion models", "Autoencoders and PCA", "Sequence to sequence")
    assert family("no-such-model") == "Other runs"


def test_images_are_copied_and_every_link_resolves(runs, tmp_path):
    (runs / "vae-1" / "report.html").write_text("<h1>vae</h1>")
    out = tmp_path / "site" / "gallery"
    html = write_gallery(runs, out).read_text()
    refs = links(html)
    images = [v for t, a, v in refs if t == "img"]
    assert len(images) == 3 and all(v.startswith("images/") for v in images)  # vae, cvae, gan; the LM's is text
    for _, _, value in refs:
        assert "://" not in value and (out / value).resolve().is_file(), value
    reports = {(out / v).resolve() for t, a, v in refs if t == "a"}
    assert reports == {(runs / "vae-1" / "report.html").resolve()}  # the only run with a report
    assert {p.read_bytes() for p in (out / "images").iterdir()} == {
        (runs / r / "samples/epoch_001.png").read_bytes() for r in ("vae-1", "cvae-1", "gan-1")}  # the latest


def test_a_card_shows_the_declared_score_first_then_the_validation_metrics(runs, tmp_path):
    (runs / "vae-1" / "eval.json").write_text(json.dumps({"data": "mnist", "elbo": -91.25, "bpd": 0.2}))
    card = _card(write_gallery(runs, tmp_path / "gallery").read_text(), "vae-1")
    rows = re.findall(r'<td>(.*?)</td><td class="num">(.*?)</td>', card)
    assert rows == [("test/elbo", "-91.25"), ("val/a", "6"), ("val/b", "0.25"), ("val/loss", "1.25")]
    assert "20 iterations · trained 1m15s" in card and "finished" in card
    (runs / "vae-1" / "eval.json").unlink()  # no test score: the validation metric the model monitors leads
    rows = re.findall(r'<td>(.*?)</td>', _card(write_gallery(runs, tmp_path / "gallery").read_text(), "vae-1"))
    assert rows[0] == "val/b"


def test_a_crashed_run_and_a_damaged_one_get_cards_that_say_so(runs, tmp_path):
    damaged = fake_run(runs / "broken", "vae", "mnist", metrics="epoch,step,val/loss\n0,x,\x00\n", sample=None)
    damaged.joinpath("config.yaml").write_text("model: [unclosed\n")
    (damaged / "model").mkdir()
    (damaged / "model" / "progress.json").write_text("{not json")
    html = write_gallery(runs, tmp_path / "gallery").read_text()
    crashed = _card(html, "ddpm-crashed")
    assert "no samples yet" in crashed and "no metrics yet" in crashed and "unfinished" in crashed
    assert "3 iterations" in crashed and "no report yet" in crashed
    broken = _card(html, "broken")
    assert "not valid YAML" in broken and "not valid JSON" in broken
    assert "broken" in _families(html)["Other runs"]


def test_a_text_sample_is_shown_escaped_and_short(runs, tmp_path):
    lm = _card(write_gallery(runs, tmp_path / "gallery").read_text(), "lm-1")
    excerpt = re.search(r"<pre>(.*?)</pre>", lm, re.S).group(1)
    assert excerpt.startswith("first &lt;line&gt; &amp; more\n") and excerpt.count("\n") == 10  # 10 lines and …


def test_a_second_gallery_replaces_the_first_and_keeps_foreign_files(runs, tmp_path):
    out = tmp_path / "gallery"
    write_gallery(runs, out)
    (out / "images" / "mine.png").write_bytes(b"not ours")
    (runs / "gan-1" / "samples" / "epoch_002.png").write_bytes((runs / "vae-1/samples/epoch_000.png").read_bytes())
    html = write_gallery(runs, out).read_text()
    shown = {v.removeprefix("images/") for t, a, v in links(html) if t == "img"}
    assert {p.name for p in (out / "images").iterdir()} == shown | {"mine.png"}  # the old gan image is gone
    assert not [p for p in out.rglob("*.tmp")]


def test_a_folder_without_runs_is_a_config_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no runs in"):
        write_gallery(tmp_path / "empty", tmp_path / "gallery")
    result = CliRunner().invoke(app, ["gallery", str(tmp_path / "missing"), "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "no folder at" in result.output
    assert not (tmp_path / "gallery").exists() and not (tmp_path / "g").exists()


def test_the_gallery_imports_no_torch(tmp_path):
    root = tmp_path / "runs"
    fake_run(root / "done", "vae", "mnist", metrics=CSV, progress={"iteration": 20, "finished": True}, summary=SUMMARY)
    fake_run(root / "crashed", "vae", "mnist", metrics=CSV, progress={"iteration": 3, "finished": False})
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom genlab.cli.main import app\n"
            f"r = CliRunner().invoke(app, ['gallery', {str(root)!r}, '--out', {str(tmp_path / 'g')!r}])\n"
            "assert r.exit_code == 0, r.output\nassert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "g" / "index.html").is_file()
