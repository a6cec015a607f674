"""MNIST from IDX files: the cache folder, downloads from mirrors (file:// and loopback HTTP),
checksums and atomic writes — on 20-image fixture files written by the tests."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading
import urllib.request

import numpy as np
import pytest
import torch

import genlab.data as data
from genlab.data import download, mnist
from genlab.errors import LoadError

N_TRAIN, N_TEST = 20, 8


def idx_gz(a: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return gzip.compress(header + a.astype(np.uint8).tobytes())


@pytest.fixture
def fixture_files(tmp_path, monkeypatch):
    """A mirror folder with four small IDX .gz files, the checksum table patched to match them,
    an empty cache folder, and the in-memory cache cleared before and after."""
    rng = np.random.default_rng(0)
    arrays = {"train_images": rng.integers(0, 256, (N_TRAIN, 28, 28)),
              "train_labels": np.arange(N_TRAIN) % 10,
              "test_images": rng.integers(0, 256, (N_TEST, 28, 28)),
              "test_labels": np.arange(N_TEST)[::-1] % 10}
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    table = {}
    for part, (filename, _) in mnist.MNIST_FILES.items():
        blob = idx_gz(arrays[part])
        (mirror / filename).write_bytes(blob)
        table[part] = (filename, hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr(mnist, "MNIST_FILES", table)
    monkeypatch.setattr(mnist, "MIRRORS", [mirror.as_uri() + "/"])
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    mnist.clear_cache()
    yield arrays, mirror
    mnist.clear_cache()


def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_missing_files_are_downloaded_verified_and_decoded(fixture_files, tmp_path):
    arrays, _ = fixture_files
    d = data.load("mnist", "train-full", source="files")
    folder = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f for f, _ in mnist.MNIST_FILES.values())
    assert torch.equal(d.x, torch.from_numpy(arrays["train_images"]).float().div(255).unsqueeze(1))
    assert d.y.tolist() == arrays["train_labels"].tolist()
    assert data.load("mnist", "test", source="files").y.tolist() == arrays["test_labels"].tolist()


def test_files_already_in_the_cache_are_used_without_network(fixture_files, tmp_path, monkeypatch):
    arrays, mirror = fixture_files
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for filename, _ in mnist.MNIST_FILES.values():
        (folder / filename).write_bytes((mirror / filename).read_bytes())
    no_network(monkeypatch)
    d = data.load("mnist", "val", source="files", n_val=4)
    assert len(d) == 4 and len(data.load("mnist", "train", source="files", n_val=4)) == N_TRAIN - 4


def test_bad_checksum_raises_and_leaves_no_file(fixture_files, tmp_path, monkeypatch):
    table = dict(mnist.MNIST_FILES)
    table["train_images"] = (table["train_images"][0], "0" * 64)
    monkeypatch.setattr(mnist, "MNIST_FILES", table)
    with pytest.raises(download.ChecksumError, match="SHA-256") as e:
        data.load("mnist", source="files")
    assert "deleted" in str(e.value)
    folder = tmp_path / "cache" / "mnist"
    assert not (folder / table["train_images"][0]).exists()
    assert not list(folder.glob(".*part"))  # no temp file left behind


def test_corrupt_cached_file_is_reported_not_used(fixture_files, tmp_path, monkeypatch):
    _, mirror = fixture_files
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for filename, _ in mnist.MNIST_FILES.values():
        (folder / filename).write_bytes((mirror / filename).read_bytes())
    (folder / mnist.MNIST_FILES["test_labels"][0]).write_bytes(b"not mnist")
    no_network(monkeypatch)
    with pytest.raises(download.ChecksumError, match="delete it"):
        data.load("mnist", "test", source="files")


def test_next_mirror_is_tried_when_one_fails(fixture_files, tmp_path, monkeypatch):
    _, mirror = fixture_files
    monkeypatch.setattr(mnist, "MIRRORS", [(tmp_path / "nowhere").as_uri() + "/", mirror.as_uri() + "/"])
    assert len(data.load("mnist", "test", source="files")) == N_TEST


def test_download_false_without_files_says_what_to_do(fixture_files, monkeypatch):
    no_network(monkeypatch)
    with pytest.raises(LoadError, match="download=True"):
        data.load("mnist", source="files", download=False)


def test_download_over_loopback_http(fixture_files, tmp_path, monkeypatch):
    _, mirror = fixture_files
    handler = functools.partial(QuietHandler, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setattr(mnist, "MIRRORS", [f"http://127.0.0.1:{server.server_address[1]}/"])
        assert len(data.load("mnist", "train-full", source="files")) == N_TRAIN
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def test_static_binarization_of_idx_source_is_cached_per_data(fixture_files, tmp_path):
    b = data.load("mnist-binarized", "train-full", source="files")
    assert b.x.shape == (N_TRAIN, 1, 28, 28) and set(b.x.unique().tolist()) <= {0.0, 1.0}
    assert (tmp_path / "cache" / "mnist" / "binarized-seed0-train.npz").is_file()
