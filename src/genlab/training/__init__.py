"""Training spine (Lightning): systems, callbacks, run folders. Importing it imports Lightning."""

from genlab.training.config import TrainConfig
from genlab.training.run import RunResult, train

__all__ = ["TrainConfig", "RunResult", "train"]
