"""Errors a user can act on: each message says what was wrong and what to do.

The CLI prints ``GenlabError`` messages on one line (no traceback) and exits with code 2.
"""

from __future__ import annotations


class GenlabError(Exception):
    """Base class of every error genlab raises for bad input."""


class ConfigError(GenlabError, ValueError):
    """A configuration value is invalid (wrong range, unknown option, malformed file)."""


class ShapeError(GenlabError, ValueError):
    """A tensor is not what the model or block it was given to takes: its shape, dtype or value range."""


class LoadError(GenlabError, OSError):
    """A saved model folder or checkpoint cannot be read."""


class UnknownNameError(GenlabError, KeyError):
    """A model or dataset name is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it plain
        return str(self.args[0]) if self.args else ""


class NonFiniteError(GenlabError, FloatingPointError):
    """Training produced a NaN or infinite loss or gradient."""


def check_shape(x, expected: tuple, what: str, hint: str = "") -> None:
    """Raise ``ShapeError`` unless ``x.shape`` matches ``expected`` (``None`` matches any size).

    >>> import torch; check_shape(torch.zeros(2, 3), (None, 3), "input")
    """
    shape = tuple(x.shape)
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape, strict=False))
    if not ok:
        want = "(" + ", ".join("B" if e is None and i == 0 else ("*" if e is None else str(e))
                               for i, e in enumerate(expected)) + ")"
        msg = f"expected {what} of shape {want}, got {shape}"
        raise ShapeError(msg + (f": {hint}" if hint else ""))


class TrainingDiverged(GenlabError, FloatingPointError):
    """An adversarial run whose discriminator has won outright (its loss ~0 for many iterations): stopped, the
    last good checkpoint kept."""


class TrainingInterrupted(GenlabError, KeyboardInterrupt):
    """Training stopped by Ctrl-C or SIGTERM after writing ``last.ckpt``; the message says how to resume. The CLI
    exits with ``exit_code``: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports it."""

    def __init__(self, message: str, *, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
