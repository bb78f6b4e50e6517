"""Cold start of ``mtqa check --no-lm`` on a 17-byte file: wall time and peak memory per checker set.

    python -m benchmarks.bench_startup [--repeats 3] [--baseline CHECKOUT]

Each configuration runs the console script under ``/usr/bin/time -v`` (wall clock and maximum
resident set of the process) ``--repeats`` times after one unmeasured run (which builds caches such
as the gazetteer index, so the numbers are the start-up a user sees on every later run); the median
and the range are reported. ``import`` is ``python -c 'import mtqa.cli.check'`` alone.
``--baseline`` runs every configuration of an older checkout (``git worktree add``) in turn with
this one and adds the ratio: the previous design measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import print_table, write_results

REPO = Path(__file__).resolve().parent.parent
CONFIGS = {
    "import": None,
    "default --no-lm": [],
    "--only boilerplate": ["--only", "boilerplate"],
    "--only ocr": ["--only", "ocr"],
    "--only garble": ["--only", "garble"],
    "--only names": ["--only", "names"],
    "--only grammar": ["--only", "grammar"],
}


def measure(command: list[str], cwd: Path = REPO) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one run; ``cwd`` decides which checkout ``python -c`` imports.
    Another checkout keeps its own cache directory: each design removes the other's stale index."""
    env = dict(os.environ)
    if cwd != REPO:
        env["MTQA_CACHE_DIR"] = str(cwd / ".bench-cache")
    out = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=cwd, env=env)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    if not wall or not rss:
        raise RuntimeError(f"{command}: no /usr/bin/time output: {out.stderr[-500:]}")
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) / 1024


def _command(extra: list[str] | None, tiny: Path) -> list[str]:
    if extra is None:
        return [sys.executable, "-c", "import mtqa.cli.check"]
    # The CLI's entry point through the interpreter, so a baseline checkout runs its own code.
    return [sys.executable, "-c", "from mtqa.cli import main; main()", "check", "--no-lm", *extra, str(tiny)]


def _timed(command: list[str], cwd: Path, repeats: int) -> tuple[list[float], list[float]]:
    measure(command, cwd)  # caches built, files in the page cache
    runs = [measure(command, cwd) for _ in range(repeats)]
    return [w for w, _ in runs], [m for _, m in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="an older checkout to measure beside this one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.txt"
        tiny.write_text("The mayor spoke.\n")  # 17 bytes
        rows = []
        for name, extra in CONFIGS.items():
            command = _command(extra, tiny)
            walls, rss = _timed(command, REPO, args.repeats)
            row = {"config": name, "wall_s": round(statistics.median(walls), 2),
                   "wall_min_max": f"{min(walls):.2f}-{max(walls):.2f}",
                   "peak_rss_mb": round(statistics.median(rss)), "repeats": args.repeats}  # fmt: skip
            if args.baseline:
                b_walls, b_rss = _timed(command, args.baseline.resolve(), args.repeats)
                row |= {"baseline_wall_s": round(statistics.median(b_walls), 2),
                        "baseline_rss_mb": round(statistics.median(b_rss)),
                        "wall_ratio": round(statistics.median(b_walls) / statistics.median(walls), 2)}
            rows.append(row)
    print_table("mtqa check --no-lm cold start (17-byte file)", rows)
    command = "python -m benchmarks.bench_startup" + (f" --baseline {args.baseline}" if args.baseline else "")
    write_results("bench-startup", {"rows": rows, "command": command})


if __name__ == "__main__":
    main()
