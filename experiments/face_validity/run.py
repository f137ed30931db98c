"""Face-validity curves: every input of the model varied alone, on the same deals.

    python experiments/face_validity/run.py             # 2,000 deals per value and strategy
    python experiments/face_validity/run.py --deals 500 --only conflict

Writes ``output/curves.csv`` (every measure with its 95% CI) and one figure per input to
``figures/`` (committed, quoted in docs/validation.md part 3). The expected responses were
written in docs/validation.md before these runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sim.face_validity import RESPONSES, response_curve  # noqa: E402
from sim.palette import strategy_colour  # noqa: E402

HERE = Path(__file__).resolve().parent
# The measures each figure shows (rates start at zero on their axes).
PANELS = (
    ("purchased", "purchase rate"),
    ("no_decision", "no decision (abandoned)"),
    ("purchase_ease", "purchase ease (purchases)"),
    ("loops_total", "loops per journey"),
    ("overwhelmed", "overwhelmed share"),
    ("regret", "regret (purchases)"),
)


def plot(table: pd.DataFrame, name: str, path: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (measure, title) in zip(axes.ravel(), PANELS, strict=True):
        rows = table[table["measure"] == measure]
        for strategy, group in rows.groupby("strategy", sort=False):
            colour = strategy_colour(strategy)
            ax.plot(group["value"], group["mean"], marker="o", markersize=3, color=colour, label=strategy)
            ax.fill_between(group["value"], group["ci_low"], group["ci_high"], color=colour, alpha=0.2)
        ax.set_title(title, fontsize=12)
        ax.set_xlabel(name, fontsize=11)
        if measure != "loops_total":
            ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=10)
    axes[0, 0].legend(fontsize=10)
    fig.suptitle(f"Response to {name} (baseline scenario, same deals for every value)", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=2000, help="deals per value and strategy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated input names (default: all)")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    responses = [r for r in RESPONSES if not wanted or r.name in wanted]
    if wanted - {r.name for r in RESPONSES}:
        allowed = ", ".join(r.name for r in RESPONSES)
        print(f"--only {args.only!r}: unknown input; allowed: {allowed}", file=sys.stderr)
        return 2
    (HERE / "output").mkdir(exist_ok=True)
    (HERE / "figures").mkdir(exist_ok=True)
    tables = []
    for response in responses:
        started = time.perf_counter()
        table = response_curve(response, args.deals, args.seed)
        tables.append(table)
        plot(table, response.name, HERE / "figures" / f"{response.name.replace(' ', '_')}.png")
        print(f"{response.name}: {len(response.values)} values x {len(response.strategies)} strategies "
              f"in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    pd.concat(tables).to_csv(HERE / "output" / "curves.csv", index=False)
    print(f"wrote {HERE / 'output' / 'curves.csv'} and figures/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
