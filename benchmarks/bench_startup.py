"""Cold start of ``mtqa check --no-lm`` on a 17-byte file: wall time and peak memory per checker set.

    python -m benchmarks.bench_startup [--repeats 3]

Each configuration runs the console script under ``/usr/bin/time -v`` (wall clock and maximum
resident set of the process) ``--repeats`` times after one unmeasured run (which builds caches such
as the gazetteer index, so the numbers are the start-up a user sees on every later run); the median
and the range are reported. ``import`` is ``python -c 'import mtqa.cli.check'`` alone.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import print_table, write_results

REPO = Path(__file__).resolve().parent.parent
MTQA = REPO / ".venv" / "bin" / "mtqa"
CONFIGS = {
    "import": None,
    "default --no-lm": [],
    "--only boilerplate": ["--only", "boilerplate"],
    "--only ocr": ["--only", "ocr"],
    "--only garble": ["--only", "garble"],
    "--only names": ["--only", "names"],
    "--only grammar": ["--only", "grammar"],
}


def measure(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one run."""
    out = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=REPO)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    if not wall or not rss:
        raise RuntimeError(f"{command}: no /usr/bin/time output: {out.stderr[-500:]}")
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.txt"
        tiny.write_text("The mayor spoke.\n")  # 17 bytes
        rows = []
        for name, extra in CONFIGS.items():
            if extra is None:
                command = [sys.executable, "-c", "import mtqa.cli.check"]
            else:
                command = [str(MTQA), "check", "--no-lm", *extra, str(tiny)]
            measure(command)  # caches built, files in the page cache
            runs = [measure(command) for _ in range(args.repeats)]
            walls, rss = [w for w, _ in runs], [m for _, m in runs]
            rows.append({"config": name, "wall_s": round(statistics.median(walls), 2),
                         "wall_min_max": f"{min(walls):.2f}-{max(walls):.2f}",
                         "peak_rss_mb": round(statistics.median(rss)), "repeats": args.repeats})  # fmt: skip
    print_table("mtqa check --no-lm cold start (17-byte file)", rows)
    write_results("bench-startup", {"rows": rows, "command": "python -m benchmarks.bench_startup"})


if __name__ == "__main__":
    main()
