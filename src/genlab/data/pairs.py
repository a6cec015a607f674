"""Image pairs made from labelled images, for image-to-image translation (G8, pix2pix): complete a digit
whose lower half is masked. Fields: ``source`` (the masked image), ``x`` (the whole image: the target),
``y`` (its label). A multi-modal task: a masked upper half often fits several lower halves (a 7 or a 9;
a 3, 5 or 8), where the L1 loss alone blurs them together."""

from __future__ import annotations

from genlab.data.tensors import TensorData


def mask_lower_half(data: TensorData, name: str) -> TensorData:
    """``data`` with a ``source`` field: each image with its lower half (rows ``H//2`` on) set to 0."""
    x = data.x  # (N, C, H, W)
    source = x.clone()
    source[:, :, x.shape[2] // 2:, :] = 0.0
    return TensorData(x=x, y=data.y, source=source, name=name, split=data.split, kind="pairs",
                      meta={"mask": "lower half"})


def load_mnist_masked(split: str = "train", *, seed: int = 0, n_val: int = 5_000) -> TensorData:
    """MNIST (grey levels in [0, 1]) with the lower half masked → the whole digit; MNIST's splits."""
    from genlab.data.mnist import load_mnist

    return mask_lower_half(load_mnist(split, seed=seed, n_val=n_val), "mnist-masked")


def load_digits_masked(split: str = "train", *, seed: int = 0, n_val: int = 150) -> TensorData:
    """The 8×8 digits with the lower half masked → the whole digit (a small version for tests)."""
    from genlab.data.digits import load_digits

    return mask_lower_half(load_digits(split, seed=seed, n_val=n_val), "digits-masked")
