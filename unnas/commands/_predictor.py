"""The body of ``unnas predictor`` (see :mod:`unnas.commands.predictor`)."""

from __future__ import annotations

import time
from pathlib import Path

from unnas.atomic import atomic_write_json
from unnas.engine.lock import DirLock
from unnas.errors import ConfigError
from unnas.search.ncp_plots import prediction_scatter
from unnas.search.predictor import FitSettings, fit_study


def main(args) -> int:
    out = Path(args.out or args.study_dir)
    if out.exists() and not out.is_dir():  # before the fit, not after it
        raise ConfigError(f"--out {out} exists and is not a directory; give a folder")
    start = time.perf_counter()
    cpu = time.process_time()
    settings = FitSettings(epochs=args.epochs, val_fraction=args.val_fraction, seed=args.seed)
    metrics = [m for m in (args.metrics or "").split(",") if m]
    predictor, table = fit_study(args.study_dir, settings, metrics or None)
    index = {a: i for i, a in enumerate(table.ids)}
    train = [index[a] for a in predictor.split["train"]]
    val = [index[a] for a in predictor.split["val"]]
    with DirLock(out, what="predictor folder"):  # a file, an unwritable path or a busy folder: one line
        path = predictor.save(out / "predictor.pt")
        prediction_scatter(out / "predictions.png", table.metrics, table.values, predictor.predict(table.codes),
                           train, val, predictor.scores)
        seconds = time.perf_counter() - start
        atomic_write_json(out / "predictor.json", {
            "study": table.study, "space": table.space, "metrics": table.metrics, "rows": len(table.ids),
            "train": len(train), "val": len(val), "scores": predictor.scores, "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - cpu, 3)})
    print(f"unnas predictor: {len(table.ids)} {table.space} architectures ({len(train)} train, {len(val)} validation), "
          f"{settings.epochs} epochs, {seconds:.1f} s")
    width = max(len(m) for m in table.metrics)
    print(f"{'metric':<{width}}  val spearman  val kendall  train spearman")
    for m in table.metrics:
        s = predictor.scores[m]

        def f(v):
            return "n/a" if v is None else f"{v:+.3f}"

        print(f"{m:<{width}}  {f(s['val']['spearman']):>12}  {f(s['val']['kendall']):>11}  {f(s['train']['spearman']):>14}")
    print(f"predictor: {path}")
    return 0
