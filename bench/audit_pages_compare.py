"""The audit pages measured by two versions of the code, page by page, in one run.

Each side is its own ``bench/audit_pages.py`` (its tree's code, its own database), run as a
child process whose timing is held until this script says go: the old side measures a page,
then the new side, then the old side's next page... so both see the same machine at nearly
the same time (the machine is shared and its load moves). Pages are matched by name; a page
only one side has is printed without a ratio. ``--rounds`` runs the whole comparison again,
the side that starts alternating, and the table shows the median of the rounds' medians.

    git worktree add --detach ../wt-old 8a543ce        # main before the message index
    .venv/bin/python bench/audit_pages_compare.py \\
        --old ../wt-old sqlite:///$PWD/bench/audit_pages_old.sqlite3 \\
        --new . sqlite:///$PWD/bench/audit_pages.sqlite3 --repeat 20 --rounds 3

``--only /`` measures the pages at that path alone (the home page, Admin and Marketer).

Both databases must already be filled (``audit_pages.py --fill-only``): a side that would
fill is stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

# "name   median p95 cpu-median cpu-p95[  <- over goal]", as audit_pages.measure prints it.
PAGE_LINE = re.compile(
    r"^(?P<name>\S.*?)\s+(?P<median>\d+\.\d)\s+(?P<p95>\d+\.\d)\s+(?P<cpu>\d+\.\d)\s+\d+\.\d"
)

CHILD = """
import os, sys
tree, repeat, admin = sys.argv[1], sys.argv[2], sys.argv[3] == "admin"
sys.path[:] = [os.path.join(tree, "bench")] + [p for p in sys.path[1:] if p]
os.chdir(tree)
import audit_pages
measured = audit_pages._timed
audit_pages.fill = audit_pages.fill_index = lambda *a, **k: sys.exit("database not filled")


only = os.environ.get("BENCH_ONLY_PATH")


def gated(call, repeat):
    sys.stdin.readline()  # wait for the parent's go
    if not admin and call.__defaults__[1].startswith("/admin/"):
        return [0.0], [0.0]  # Django's changelist, not asked for: not measured
    if only is not None and call.__defaults__[1] != only:
        return [1e-6], [0.0]  # --only: another page, not measured (not 0: ratios divide)
    return measured(call, repeat)


audit_pages._timed = gated
sys.argv = ["audit_pages.py", "--repeat", repeat, "--skip-export", "--rows", "0"]
audit_pages.main()
"""


def start(
    tree: str, database: str, repeat: int, admin: bool, only: str | None = None
) -> subprocess.Popen[str]:
    env = dict(os.environ, DATABASE_URL=database)
    if only is not None:
        env["BENCH_ONLY_PATH"] = only
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(Path(tree).resolve()),
            str(repeat),
            "admin" if admin else "-",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def next_page(child: subprocess.Popen[str], log: list[str]) -> tuple[str, float, float] | None:
    """Let the child measure its next page; its (name, median ms, CPU median ms), or None
    when it has no page left."""
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write("go\n")
        child.stdin.flush()
    except BrokenPipeError:
        return None
    for line in child.stdout:
        log.append(line.rstrip("\n"))
        found = PAGE_LINE.match(line)
        if found and not line.startswith("page "):
            return found["name"], float(found["median"]), float(found["cpu"])
    return None


def one_round(
    old: tuple[str, str],
    new: tuple[str, str],
    repeat: int,
    old_first: bool,
    admin: bool,
    only: str | None = None,
) -> dict:
    sides = {"old": start(*old, repeat, admin, only), "new": start(*new, repeat, admin, only)}
    order = ["old", "new"] if old_first else ["new", "old"]
    results: dict[str, dict] = {}
    logs: dict[str, list[str]] = {"old": [], "new": []}
    alive = set(order)
    while alive:
        for side in order:
            if side not in alive:
                continue
            page = next_page(sides[side], logs[side])
            if page is None:
                alive.discard(side)
                continue
            name, median, cpu = page
            if (name.startswith("admin") and not admin) or (only is not None and not cpu):
                continue
            results.setdefault(name, {})[side] = (median, cpu)
            if side == "new":
                results[name]["order"] = len([r for r in results.values() if "order" in r])
            print(f"  {side}: {name:52} {median:8.1f} ms (CPU {cpu:.1f})", flush=True)
    for side, child in sides.items():
        if child.wait() != 0:
            sys.exit(f"{side} side failed:\n" + "\n".join(logs[side][-20:]))
        print("\n".join(line for line in logs[side] if line.startswith(("sqlite", "postgres"))))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", nargs=2, metavar=("TREE", "DATABASE_URL"), required=True)
    parser.add_argument("--new", nargs=2, metavar=("TREE", "DATABASE_URL"), required=True)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--admin", action="store_true", help="also Django's admin changelist (slow: seconds)"
    )
    parser.add_argument(
        "--only",
        metavar="PATH",
        help="measure only the pages at this path (e.g. / for the home page, both roles)",
    )
    args = parser.parse_args()

    rounds = []
    for n in range(args.rounds):
        print(f"round {n + 1} of {args.rounds} (load average {os.getloadavg()[0]:.1f})")
        rounds.append(
            one_round(
                tuple(args.old),
                tuple(args.new),
                args.repeat,
                n % 2 == 0,
                args.admin,
                args.only,
            )
        )
    # In the new side's order, a page only the old side has at the end.
    names = sorted(
        dict.fromkeys(name for found in rounds for name in found),
        key=lambda name: min(found[name].get("order", 999) for found in rounds if name in found),
    )
    print(
        f"\nmedians of {args.rounds} round(s), {args.repeat} timed requests per page and side, "
        f"milliseconds (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"| page | old | new | ratio | old CPU | new CPU | CPU ratio |\n|---|{'---:|' * 6}")
    for name in names:
        cells = []
        for index in (0, 1):
            for side in ("old", "new"):
                values = [found[name][side][index] for found in rounds if side in found[name]]
                cells.append(statistics.median(values) if values else None)
        old, new, old_cpu, new_cpu = cells

        def ratio(a: float | None, b: float | None) -> str:
            return f"{b / a:.2f}" if a and b else "new" if b else "—"

        def ms(value: float | None) -> str:
            return f"{value:.1f}" if value is not None else "—"

        print(
            f"| {name} | {ms(old)} | {ms(new)} | {ratio(old, new)} | {ms(old_cpu)} | "
            f"{ms(new_cpu)} | {ratio(old_cpu, new_cpu)} |"
        )


if __name__ == "__main__":
    main()
