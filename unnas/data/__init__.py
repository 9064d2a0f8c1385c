"""Dataset readers. Datasets decode and augment images only; they know nothing of tasks.

Every dataset returns ``(image, target)``: ``image`` is a float RGB tensor 3×H×W in [0, 1];
``target`` is an int class label (-1 when the data has none) or an int64 H×W mask.
Randomness comes from a per-sample generator (see :mod:`unnas.data.sampling`), so a sample's
augmentation depends only on the run seed, the epoch and its position: resumed runs and any
number of loader workers see the same pixels.
"""

# Built-in readers register themselves on import.
from . import cifar, cityscapes, demo, folder, idx, imagenet22k  # noqa: E402,F401
from .base import ImageDataset
from .registry import build_dataset, list_datasets, register_dataset

__all__ = ["ImageDataset", "build_dataset", "list_datasets", "register_dataset"]
