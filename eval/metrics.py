"""Metrics that accumulate over a whole split; they live with the segmentation task (:mod:`pretext.metrics`)."""

from pretext.metrics import IGNORE_INDEX, confusion_matrix, iou_from_confusion

__all__ = ["IGNORE_INDEX", "confusion_matrix", "iou_from_confusion"]
