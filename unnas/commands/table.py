"""``unnas table check|export|race``: benchmark tables (CSV or JSON lines, one row per architecture).

``check FILE --space S`` validates a table (every key parses, no duplicates, metrics finite) and prints its
rows, its coverage of the space and each metric's range. ``export STUDY_DIR --out FILE`` writes a study's
results as such a table. ``race FILE --space S --metric M`` runs random search, REA and PPO × seeds against
the table's metric and plots the best found vs queries, with 95% bands over seeds.
"""

from __future__ import annotations

NAME = "table"
HELP = "check a benchmark table, export a study as one, or race search strategies against one"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("check", help="validate a table and print its rows, coverage and metric ranges")
    p.add_argument("file", help="a CSV or JSON-lines table (key column arch, or index for nasbench201)")
    p.add_argument("--space", required=True, help="the space the table belongs to (e.g. nasbench201)")
    p = sub.add_parser("export", help="a study's results (tasks averaged over seeds, params, madds) as a CSV table")
    p.add_argument("study_dir", help="a study directory (its plan.json and results/)")
    p.add_argument("--out", required=True, help="the CSV file to write")
    p = sub.add_parser("race", help="random / REA / PPO × seeds against a table's metric (queries, no training)")
    p.add_argument("file", help="a CSV or JSON-lines table")
    p.add_argument("--space", required=True, help="the space the table belongs to")
    p.add_argument("--metric", required=True, help="the column to maximise")
    p.add_argument("--strategies", default="random,rea,ppo", help="comma-separated (default: random,rea,ppo)")
    p.add_argument("--seeds", type=int, default=20, help="seeds 1..N per strategy (default 20)")
    p.add_argument("--budget", type=int, default=100, help="queries per search (default 100)")
    p.add_argument("--out", required=True, help="folder for race.json, race.csv and race.png")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="rea.* / ppo.* settings (e.g. rea.population=20)")


def run(args) -> int:
    from ._table import main  # imported on use: `unnas --help` must not import torch

    return main(args)
