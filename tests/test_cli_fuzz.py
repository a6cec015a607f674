"""Fuzzing the CLI (hypothesis): every command given generated bad arguments and YAML files exits with code 2,
prints one line `error: ...` on stderr and no traceback, and creates or changes no file.

Each case combines one or more mutations that make the call wrong by construction with random valid
options around them. ``GENLAB_FUZZ_EXAMPLES`` sets the number of cases (default 60 in `make test`; the
figure in benchmarks/RESULTS.md ran 1,000).
"""

import os
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from genlab.cli.main import app

OLD_VAE = Path(__file__).resolve().parent / "fixtures" / "runs" / "vae-v0"
EXAMPLES = int(os.environ.get("GENLAB_FUZZ_EXAMPLES", "60"))
CASES = {"ran": 0}

junk = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
bad_number = st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not float(v).is_integer()),
                       junk.filter(lambda s: not s.strip().lstrip("-").isdigit()))

# --- train: each mutation alone makes the call wrong -----------------------------------------------
TRAIN_MUTATIONS = [
    st.tuples(st.just("--set"), bad_number.map(lambda v: f"model.latent_dim={v}")),
    st.tuples(st.just("--set"), st.sampled_from(["model.hidden=300", "model.hidden=[300,", "model.hidden=abc",
                                                 "model.hidden={a: 1}"])),
    st.tuples(st.just("--set"), st.from_regex(r"model\.zz[a-z]{1,6}=1", fullmatch=True)),
    st.tuples(st.just("--set"), st.from_regex(r"zz[a-z]{1,6}=1", fullmatch=True)),
    st.tuples(st.just("--set"), junk.filter(lambda s: "=" not in s)),
    st.tuples(st.just("--max-steps"), st.integers(-1000, 0).filter(lambda v: v != -1).map(str)),
    st.tuples(st.just("--batch-size"), st.integers(-1000, 0).map(str)),
    st.tuples(st.just("--max-time"), st.sampled_from(["0s", "-5m", "ten minutes", "5x", "1h-2m"])),
    st.tuples(st.just("--data"), st.from_regex(r"nodata[a-z]{0,5}", fullmatch=True)),
    st.tuples(st.just("--lr"), st.sampled_from(["0", "-1e-3"])),
    st.tuples(st.just("--precision"), st.sampled_from(["16", "fp64", "bf16"])),
    st.tuples(st.just("--strategy"), st.sampled_from(["deepspeed", "fsdp"])),
    st.tuples(st.just("--devices"), st.sampled_from(["0", "-2"])),
    st.tuples(st.just("--resume"), st.just(str(OLD_VAE / "samples"))),  # not a run folder
    st.tuples(st.just("--seed"), st.one_of(st.integers(-10**6, -1), st.integers(2**32, 2**40)).map(str)),
    st.tuples(st.just("--config"), st.just(".")),  # a folder
]
VALID_NOISE = st.lists(st.sampled_from([("--seed", "3"), ("--quiet",), ("--epochs", "2"), ("--set", "num_samples=4"),
                                        ("--set", "steps_per_call=2")]), max_size=2)
YAML_FILES = st.sampled_from([
    "model: [vae\n", "- a\n- b\n", "model: vae\nmodel_options: 3\n", "model: vae\nzzz: 1\n",
    "model: {latent_dim: 2}\n", "model: vae\nepochs: many\n", "model: vae\nbatch_size: -3\n", ":\n  - ]\n",
    "modle: vae\n", "", "model: vae\nseed: -1\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", b"model: vae\nepochs: 3\xff\xfe\n",  # binary, not UTF-8
    "model: vae\nepochs: 2\x07\n",  # a control character YAML does not read
])


@st.composite
def train_calls(draw):
    args = ["train"]
    if draw(st.booleans()):
        args.append(draw(st.sampled_from(["vae", "ae", "ddpm", "gan", "lenet"])))
        args += ["--data", "digits"] if "--data" not in args else []
    yaml = None
    for noise in draw(VALID_NOISE):  # before the mutations: a later flag wins (a valid --seed 3 after --seed -1)
        args += list(noise)
    mutations = draw(st.lists(st.sampled_from(TRAIN_MUTATIONS), min_size=1, max_size=3))
    for m in mutations:
        part = list(draw(m))
        args += part if part[0] != "--config" or "--config" not in args else []
    if draw(st.integers(0, 3)) == 0 and "--config" not in args:  # (a later --config would win over a mutation)
        yaml = draw(YAML_FILES)
        args += ["--config", "run.yaml"]
    return args, yaml


# --- the other commands ---------------------------------------------------------------------------
OTHER_CALLS = st.one_of(
    st.tuples(st.just("sample"), junk.map(lambda s: f"no-run-{s}")),
    st.tuples(st.just("sample"), st.just(str(OLD_VAE)), st.just("--n"), st.integers(-100, 0).map(str)),
    st.tuples(st.just("sample"), st.just(str(OLD_VAE)), st.sampled_from(["--steps", "--eta", "--y"]), st.just("2")),
    st.tuples(st.just("eval"), st.just(str(OLD_VAE)), st.just("--metrics"),
              st.from_regex(r"zz[a-z]{0,6}", fullmatch=True)),
    st.tuples(st.just("eval"), st.just(str(OLD_VAE)), st.just("--limit"), st.integers(-100, 0).map(str)),
    st.tuples(st.just("eval"), junk.map(lambda s: f"no-run-{s}")),
    st.tuples(st.just("embed"), st.just(str(OLD_VAE)), st.sampled_from(["--neighbors", "--k"]),
              st.integers(-10, 0).map(str)),
    st.tuples(st.just("denoise"), st.just(str(OLD_VAE))),  # a VAE is not a denoising autoencoder
    st.tuples(st.just("anomaly"), st.just("--model"), st.just("vae")),  # no --digit
)


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def _check(args: list[str], yaml: str | bytes | None, tmp: Path) -> None:
    for p in tmp.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    if yaml is not None:
        (tmp / "run.yaml").write_bytes(yaml if isinstance(yaml, bytes) else yaml.encode())
    fixture_before = _files(OLD_VAE)
    before = _files(tmp)
    result = CliRunner().invoke(app, [str(a) for a in args])
    CASES["ran"] += 1
    err = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (args, yaml, result.output, result.exception)
    assert len(err) == 1 and err[0].startswith("error: "), (args, yaml, result.stderr)
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert _files(tmp) == before, (args, "wrote files")
    assert _files(OLD_VAE) == fixture_before, (args, "changed the run folder it was given")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=train_calls())
def test_train_with_bad_arguments_is_one_line_exit_2_and_writes_nothing(call, tmp_path):
    cwd = os.getcwd()  # (one tmp_path for all the examples: _check empties it first)
    os.chdir(tmp_path)
    try:
        _check(*call, tmp_path)
    finally:
        os.chdir(cwd)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=OTHER_CALLS)
def test_other_commands_with_bad_arguments_are_one_line_exit_2_and_write_nothing(call, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _check(list(call), None, tmp_path)
    finally:
        os.chdir(cwd)


# --- resume: each mutation is an option a resume cannot honour ----------------------------------------
RESUME_MUTATIONS = [
    st.tuples(st.just("--out"), st.from_regex(r"elsewhere-[a-z]{1,6}", fullmatch=True)),  # another folder
    st.tuples(st.just("--lr"), st.sampled_from(["0.5", "3e-2"])),  # the optimizer
    st.tuples(st.just("--batch-size"), st.sampled_from(["3", "64"])),
    st.tuples(st.just("--set"), st.sampled_from(["model.latent_dim=7", "model.hidden=[4]", "seed=9"])),
    st.tuples(st.just("--seed"), st.sampled_from(["-1", "5"])),
    st.tuples(st.just("--config"), st.just("run.yaml")),  # with a YAML file that changes the optimizer or is bad
    st.tuples(st.just("--max-steps"), st.sampled_from(["12", "24"])),  # already reached: nothing to do
    st.tuples(st.just("vae")),  # a MODEL argument
]
RESUME_YAML = st.sampled_from(["lr: 0.5\n", "epochs: [2,\n", b"\xff\xfe\x00", "zz: 1\n", "model_options: 3\n"])
RESUME_NOISE = st.lists(st.sampled_from([("--quiet",), ("--set", "num_samples=2"), ("--max-steps", "40")]),
                        max_size=2)


@st.composite
def resume_calls(draw):
    args = ["train", "--resume", "RUN"]
    args += [a for noise in draw(RESUME_NOISE) for a in noise]  # before the mutations: a later flag wins
    yaml = None
    for m in draw(st.lists(st.sampled_from(RESUME_MUTATIONS), min_size=1, max_size=2, unique=True)):
        part = list(draw(m))
        args += part
        if part[0] == "--config":
            yaml = draw(RESUME_YAML)
    return args, yaml


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=resume_calls())
def test_resume_with_options_it_cannot_honour_is_one_line_exit_2_and_changes_nothing(call, tmp_path):
    args, yaml = call
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run = tmp_path.parent / f"{tmp_path.name}-run"  # outside tmp_path: _check compares tmp_path's files
        if not run.exists():
            shutil.copytree(OLD_VAE, run)
        run_files = _files(run)
        _check([str(run) if a == "RUN" else a for a in args], yaml, tmp_path)
        assert _files(run) == run_files, (args, "changed the run it was to resume")
    finally:
        os.chdir(cwd)


# --- eval and sample on damaged run folders -------------------------------------------------------
DAMAGE = {
    "config.yaml: binary": ("config.yaml", b"\x00\xff\xfe\x89garbage"),
    "config.yaml: not a mapping": ("config.yaml", b"- just\n- a list\n"),
    "config.yaml: bad YAML": ("config.yaml", b"model: [vae\n"),
    "model/config.json: bad JSON": ("model/config.json", b"{\"class\": "),
    "model/config.json: missing": ("model/config.json", None),
    "model/model.safetensors: truncated": ("model/model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{"),
    "model/: missing": ("model", None),
    "model/progress.json: bad JSON": ("model/progress.json", b"{\"iteration\""),
}
NEEDS_DATA = [["eval", "RUN", "--limit", "4"], ["embed", "RUN"]]  # read config.yaml for the dataset
NEEDS_MODEL = [*NEEDS_DATA, ["sample", "RUN", "--n", "2"]]  # (sample draws from model/ alone)
DAMAGED_CALLS = st.one_of(
    st.tuples(st.sampled_from([d for d in sorted(DAMAGE) if d.startswith("config.yaml")]), st.sampled_from(NEEDS_DATA)),
    st.tuples(st.sampled_from([d for d in sorted(DAMAGE) if d.startswith("model")]), st.sampled_from(NEEDS_MODEL)),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=DAMAGED_CALLS)
def test_eval_and_sample_on_a_damaged_run_folder_are_one_line_exit_2_and_write_nothing(call, tmp_path):
    damage, args = call
    where, content = DAMAGE[damage]
    run = tmp_path.parent / f"{tmp_path.name}-damaged"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(OLD_VAE, run)
    target = run / where
    if content is None:
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    else:
        target.write_bytes(content)
    if where == "model":  # no model/ and no checkpoint: a folder that holds nothing to load
        (run / "checkpoints" / "last.ckpt").unlink()
    run_files = _files(run)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _check([str(run) if a == "RUN" else a for a in args], None, tmp_path)
        assert _files(run) == run_files, (damage, args, "changed the damaged folder")
    finally:
        os.chdir(cwd)


def test_report_the_number_of_fuzz_cases(capsys):
    with capsys.disabled():
        print(f"\nCLI fuzzing: {CASES['ran']} cases ran")
