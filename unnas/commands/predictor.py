"""``unnas predictor fit STUDY_DIR``: learn a study's results (codes → metrics) for NCP search.

Writes ``predictor.pt`` (the network, normalisation, split and scores), ``predictor.json`` (the
scores, strict JSON) and ``predictions.png`` (predicted vs true per metric) into ``--out``
(default: the study directory), and prints each metric's Spearman/Kendall on the validation rows.
"""

from __future__ import annotations

NAME = "predictor"
HELP = "fit a neural predictor of a study's results (for `unnas search strategy=ncp`)"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fit = sub.add_parser("fit", help="fit a predictor on a study directory's results")
    fit.add_argument("study_dir", metavar="STUDY_DIR", help="a study's out_dir (plan.json + results/)")
    fit.add_argument("--out", metavar="DIR", help="folder for predictor.pt and its pictures (default: STUDY_DIR)")
    fit.add_argument("--metrics", metavar="A,B", help="metrics to learn (default: every task, params, madds)")
    fit.add_argument("--epochs", type=int, default=200)
    fit.add_argument("--val-fraction", type=float, default=0.2, help="share of architectures held out (seeded)")
    fit.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    import time
    from pathlib import Path

    from unnas.atomic import atomic_write_json
    from unnas.search.ncp_plots import prediction_scatter
    from unnas.search.predictor import FitSettings, fit_study

    start = time.perf_counter()
    cpu = time.process_time()
    settings = FitSettings(epochs=args.epochs, val_fraction=args.val_fraction, seed=args.seed)
    metrics = [m for m in (args.metrics or "").split(",") if m]
    predictor, table = fit_study(args.study_dir, settings, metrics or None)
    out = Path(args.out or args.study_dir)
    path = predictor.save(out / "predictor.pt")
    index = {a: i for i, a in enumerate(table.ids)}
    train = [index[a] for a in predictor.split["train"]]
    val = [index[a] for a in predictor.split["val"]]
    prediction_scatter(out / "predictions.png", table.metrics, table.values, predictor.predict(table.codes),
                       train, val, predictor.scores)
    seconds = time.perf_counter() - start
    atomic_write_json(out / "predictor.json", {"study": table.study, "space": table.space, "metrics": table.metrics,
                                               "rows": len(table.ids), "train": len(train), "val": len(val),
                                               "scores": predictor.scores, "seconds": round(seconds, 3),
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
