"""Per-channel RGB statistics of the datasets (values in [0, 1]).

They describe the data, so they live on the data side: readers carry them as ``mean``/``std``
and hand them to the tasks, which normalise with whatever they are given (the ImageNet values
are only the tasks' default).
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD"]
