"""The body of ``unnas tasks`` (see :mod:`unnas.commands.tasks`)."""

from __future__ import annotations

import pretext
from unnas.trials.proxies import PROXY_INFO


def main(args) -> int:
    descriptions = pretext.task_descriptions()
    width = max(len(n) for n in descriptions)
    for name, text in descriptions.items():
        print(f"{name:<{width}}  {text}")
    # no blank line: every line of the output starts with a name or a heading
    print("zero-cost proxies (study `proxies:`; scored on the untrained network from one batch):")
    rows = [("proxy", "needs labels", "definition")]
    rows += [(name, "yes" if info.needs_labels else "no", info.description) for name, info in PROXY_INFO.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for name, labels, text in rows:
        print(f"  {name:<{widths[0]}}  {labels:<{widths[1]}}  {text}")
    return 0
