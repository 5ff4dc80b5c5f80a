"""Start-up: `followup --help` and `followup schedule` end to end, against `python -c pass`.

Each command runs --runs times (default 15, after one untimed warm-up) as a subprocess of the
project's `followup` script, timed from start to exit; the median is compared with the goals of
issue 9 (`followup --help` <= 120 ms, a simple command <= 250 ms on SQLite). The simple command is
`followup schedule` on an empty, migrated SQLite database. Then each runs once more under
`python -X importtime` and the --top modules by cumulative import time are printed (nested
imports are inside their parent's figure, so the list overlaps), with the self time summed by
top-level package.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import database, followup_command, loadavg, machine, run_measured, table, worker_env

GOALS_MS = {"followup --help": 120.0, "followup schedule (empty SQLite)": 250.0}


def importtime(cmd: list[str], env: dict[str, str], cwd: Path, top: int) -> list[str]:
    """The top modules by cumulative import time, from `python -X importtime`."""
    script = cmd[0]
    if Path(script).name == "followup":  # the console script is Python: run it under -X
        cmd = [sys.executable, "-X", "importtime", script, *cmd[1:]]
    else:
        cmd = [cmd[0], "-X", "importtime", *cmd[1:]]
    said = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True).stderr
    rows, total = [], 0
    for line in said.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative, name = (part.strip() for part in line[12:].split("|"))
        total += int(self_us)
        rows.append((int(cumulative), int(self_us), name))
    rows.sort(reverse=True)
    packages: dict[str, int] = {}
    for _, self_us, name in rows:
        package = name.split(".")[0]
        packages[package] = packages.get(package, 0) + self_us
    biggest = sorted(packages.items(), key=lambda kv: -kv[1])[:8]
    by_package = ", ".join(f"{name} {us / 1000:.0f}" for name, us in biggest)
    lines = [f"    {c / 1000:7.1f} ms cumulative  {s / 1000:6.1f} ms self  {n}" for c, s, n in rows]
    return [
        f"  all imports: {total / 1000:.1f} ms ({len(rows)} modules); by package (ms of self "
        f"time): {by_package}"
    ] + lines[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs each (default 15)")
    parser.add_argument("--top", type=int, default=15, help="modules to list (default 15)")
    args = parser.parse_args(argv)
    print(f"start-up benchmark: {machine()}; load average {loadavg()}", flush=True)
    results, imports = {}, {}
    with tempfile.TemporaryDirectory(prefix="followup-startup-") as tmp:
        folder = Path(tmp)
        with database("sqlite", folder) as url:
            env = worker_env(url)
            commands = {
                "python -c pass (baseline)": [sys.executable, "-c", "pass"],
                "followup --help": followup_command() + ["--help"],
                "followup schedule (empty SQLite)": followup_command() + ["schedule"],
            }
            for name, cmd in commands.items():
                walls, cpus, rss = [], [], []
                for k in range(args.runs + 1):
                    with (folder / "out").open("wb") as out, (folder / "err").open("wb") as err:
                        m = run_measured(cmd, env, folder, out, err, rss=True)
                    if m.returncode != 0:
                        said = (folder / "err").read_text(errors="replace").strip()
                        print(f"FAILED: {name} exited {m.returncode}: {said}", file=sys.stderr)
                        return 1
                    if k:  # the first run warms the page cache
                        walls.append(m.wall)
                        cpus.append(m.cpu)
                        rss.append(m.max_rss_mb)
                results[name] = (walls, cpus, rss)
                imports[name] = importtime(cmd, env, folder, args.top)
    rows = [["command", "median ms", "min-max ms", "over baseline ms", "CPU ms", "peak RSS MB"]]
    rows[0].append("goal")
    base = statistics.median(results["python -c pass (baseline)"][0])
    for name, (walls, cpus, rss) in results.items():
        wall = statistics.median(walls)
        goal = GOALS_MS.get(name)
        rows.append(
            [
                name,
                f"{1000 * wall:.0f}",
                f"{1000 * min(walls):.0f}-{1000 * max(walls):.0f}",
                f"{1000 * (wall - base):.0f}",
                f"{1000 * statistics.median(cpus):.0f}",
                f"{statistics.median(rss):.0f}",
                ""
                if goal is None
                else (f"<= {goal:g} ms: " + ("met" if 1000 * wall <= goal else "missed")),
            ]
        )
    print(f"\nload average at the end: {loadavg()}")
    print(table(rows))
    print(
        f"\nmedian of {args.runs} runs after one warm-up, each a subprocess from start to exit "
        "(under GNU time for its peak RSS, ~1 ms); `followup` is "
        f"{followup_command()[0]}"
    )
    for name, lines in imports.items():
        print(f"\npython -X importtime, {name}: top {args.top} by cumulative time")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
