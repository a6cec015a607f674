"""How often a run validates: every ``n`` epochs, chosen so validation stays a small share of the run.

At each validation the spine averages the model's terms over the validation split, draws the epoch's
sample grid and writes ``last.ckpt``. On the full MNIST split (50,000 training, 10,000 validation
images) that is a fifth of an epoch's examples, forward only. On a low-data subset it is not: with 20
digits per class an epoch is 3 mini-batches, and validating the 10,000 images after each made a cGAN
iteration 17× as long as on the full split (``benchmarks/small_data.py``: 1,375 against 80.7 ms; 76.6 ms
with the interval). So, unless the run asks for an interval, validation waits until
``TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE`` training examples have passed per validation example
(``validation_interval``) — and until ``MIN_ITERATIONS_PER_VALIDATION`` iterations have: a validation also writes
``last.ckpt``, ``model/`` and a sample file, a fixed cost that on a small table (one iteration an epoch) made a
300-epoch TVAE run 5.3× as long as with a validation every 50 epochs (14.7 s against 2.8 s, cars).

Validation does not touch the training's random numbers (``System`` restores the RNG after it), so
the interval changes what is logged and drawn, never the weights.
"""

from __future__ import annotations

import math

#: at most one validation example per this many training examples, unless the run sets an interval
TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE = 4
#: at least this many iterations between two validations, unless the run sets an interval ...
MIN_ITERATIONS_PER_VALIDATION = 20
#: ... or that would leave fewer validations than this in a run of known length
MIN_VALIDATIONS = 10


def validation_interval(requested: int | None, *, train_examples: int, val_examples: int, epochs: int,
                        iterations: int = 0, max_steps: int = -1) -> int:
    """Validate every this many epochs.

    ``requested`` (``val_every_epochs``) wins when given. Otherwise the fewest epochs whose training
    examples (``train_examples`` per epoch) are at least ``TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE ×
    val_examples`` and whose iterations (``iterations`` per epoch; 0: not counted) are at least
    ``MIN_ITERATIONS_PER_VALIDATION`` — the latter only as far as a run of known length (``epochs``, or
    ``max_steps`` iterations) keeps ``MIN_VALIDATIONS`` validations; with a fixed number of ``epochs`` it is then
    rounded up to a divisor of it, so the last epoch is always validated (and ``epochs`` itself when none fits).
    """
    if requested is not None:
        return requested
    need = math.ceil(TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE * val_examples / max(1, train_examples))
    if iterations > 0:
        limits = ([epochs] if epochs > 0 else []) + ([math.ceil(max_steps / iterations)] if max_steps >= 0 else [])
        planned = min(limits, default=0)  # the run's epochs, when it has a known length
        fixed_cost = math.ceil(MIN_ITERATIONS_PER_VALIDATION / iterations)
        need = max(need, min(fixed_cost, max(1, planned // MIN_VALIDATIONS)) if planned else fixed_cost)
    n = max(1, need)
    if epochs > 0:
        n = min(d for d in range(1, epochs + 1) if epochs % d == 0 and d >= min(n, epochs))
    return n
