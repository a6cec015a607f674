"""report.html says what report.md says (one Report, two writers), escaped, self-contained."""

import re
from pathlib import Path

import pytest
from pages import links, png

from genlab.models.vae import VAE
from genlab.rundir import RunDir
from genlab.training.config import TrainConfig
from genlab.training.report import write_report

METRICS_CSV = "epoch,step,train/loss,val/loss,val/elbo\n0,4,3.0,,\n0,4,,2.5,-2.5\n1,9,2.0,,\n1,9,,1.75,-1.75\n"


def _run(tmp_path: Path, *, command: str = "genlab train vae --data digits", text_sample: bool = False) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.config_yaml.write_text("model: vae\ndata: digits\n")
    run.metrics_csv.write_text(METRICS_CSV)
    png(run.epoch_samples(0))
    png(run.epoch_samples(1))
    png(run.epoch_samples(1, "reconstructions"))
    if text_sample:
        run.epoch_samples(1).unlink()
        (run.samples / "epoch_001.txt").write_text("".join(f"<s{i}> & \"line\" {i}\n" for i in range(25)))
    cfg = TrainConfig(model="vae", data="digits", epochs=2, batch_size=8, lr=1e-3, out=str(run.path), quiet=True)
    model = VAE(data_shape=(1, 8, 8), latent_dim=2, hidden=[16])
    write_report(run, cfg, model, {"val/loss": 1.75, "val/elbo": -1.75, "val/kl": 0.123456}, seconds=12.34,
                 command=command, steps=10, evaluation={"elbo": -1.5}, continued=["genlab train --resume RUN"])
    return run


def _html_rows(html: str) -> list[tuple[str, str]]:
    table = re.search(r"Final validation metrics</h2>\s*<table>(.*?)</table>", html, re.S).group(1)
    return [tuple(re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row))
            for row in re.findall(r"<tr>(.*?)</tr>", table) if "<td" in row]


def test_report_html_metrics_table_equals_report_mds(tmp_path):
    run = _run(tmp_path)
    md = run.report.read_text()
    md_rows = [tuple(c.strip() for c in line.strip("|").split("|")) for line in md.splitlines()
               if line.startswith("| val/")]
    assert md_rows == [("val/elbo", "-1.7500"), ("val/kl", "0.1235"), ("val/loss", "1.7500")]
    assert _html_rows(run.report_html.read_text()) == md_rows


def test_report_html_has_every_section_of_report_md(tmp_path):
    run = _run(tmp_path)
    md_titles = re.findall(r"^## (.+)$", run.report.read_text(), re.M)
    html = run.report_html.read_text()
    assert re.findall(r"<h2>(.+?)</h2>", html) == md_titles
    assert md_titles[:2] == ["Reproduce", "Final validation metrics"] and "Curves" in md_titles
    assert "<h1>vae on digits</h1>" in html and "trained 10 iterations in 12.3 s" in html
    assert "<code>genlab train --resume RUN</code>" in html  # the resume command, as in report.md
    assert f"genlab train --resume {run.path} --epochs N" in html


def test_report_html_references_only_files_in_the_run_folder(tmp_path):
    run = _run(tmp_path)
    html = run.report_html.read_text()
    refs = links(html)
    assert {v for t, a, v in refs if t == "img"} == {"curves.png", "samples/epoch_001.png",
                                                     "samples/reconstructions_001.png"}
    for _, _, value in refs:
        assert "://" not in value and not value.startswith("/"), value  # relative: the folder can move
        assert (run.path / value).is_file(), value
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html


def test_report_html_escapes_the_text_it_shows(tmp_path):
    run = _run(tmp_path, command="genlab train vae --set 'note=<b>bold</b> & \"q\"'", text_sample=True)
    html = run.report_html.read_text()
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;" in html
    assert "<s0>" not in html and "&lt;s0&gt; &amp; &quot;line&quot; 0" in html  # the text sample, in <pre>
    assert "&lt;s19&gt;" in html and "&lt;s20&gt;" not in html and "5 more lines" in html  # first 20 of 25 lines


@pytest.mark.parametrize("bad", ["report.md", "report.html"])
def test_a_failed_report_write_leaves_the_earlier_report_whole(tmp_path, monkeypatch, bad):
    import genlab.training.report as report

    real = report.atomic_write_text

    def failing(path, text):
        if Path(path).name == bad:
            raise OSError("disk full")
        return real(path, text)

    run = _run(tmp_path)
    before = {p.name: p.read_text() for p in (run.report, run.report_html)}
    monkeypatch.setattr(report, "atomic_write_text", failing)
    cfg = TrainConfig(model="vae", data="digits", out=str(run.path))
    with pytest.raises(OSError):
        write_report(run, cfg, VAE(data_shape=(1, 8, 8), latent_dim=2, hidden=[16]), {"val/loss": 9.0},
                     seconds=1.0, command="genlab train vae", steps=99)
    assert (run.path / bad).read_text() == before[bad]  # the old file, whole: never half of the new one
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]
