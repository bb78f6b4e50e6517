"""The cross-source table of benchmarks/README.md, from the JSON `mtqa eval --cross-source --split all` writes
(`cross-source-{dev,test}.json`; beside it the design before the LM's proposals,
`cross-source-no-lm-{dev,test}.json`, written by the same command without `--lm-proposals`).

    python -m benchmarks.cross_source_table > /tmp/table.md
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
LT, NEWS, OFF = "LanguageTool rules alone", "grammar (news profile)", "mtqa without LM, --decision off"
LEARNED = "mtqa default (learned decision)"
BEFORE_LM = "mtqa without LM (default: learned decision)"  # its name in results written before the LM proposals
SIGNALS = ("names alone", "ocr alone", "garble rules alone")
NAMES = {"ocr": "OCR", "names": "names", "mt_mqm": "MQM", "mt_qe_wordtags": "word tags"}
SOURCES = {"icdar2017": "ICDAR2017", "overproof": "Overproof SMH", "ted": "TED"}


def _label(row: str) -> tuple[str, str]:
    """"ocr: icdar2017 (OCR held out, t=0.850, names at 0.45)" -> ("OCR: ICDAR2017 held out", "0.850 / 0.45")."""
    m = re.match(r"(\w+): (.+?) \((.*?), t=([\d.]+), names at ([\d.]+)(?:, LM at [\d.]+)?\)", row)
    if not m:
        raise ValueError(f"unexpected row label {row!r}")
    dataset, source, how, t, names = m.groups()
    where = "all sources" if source == "all sources" else f"{SOURCES.get(source, source)} held out"
    return f"{NAMES.get(dataset, dataset)}: {where}", f"{float(t):.3f} / {names}"


def table(dev: dict, test: dict, before: tuple[dict, dict] | None = None) -> str:
    """``before``: the (dev, test) results of the design before, one more column."""
    f = lambda x: "" if x is None else f"{x:.3f}"  # noqa: E731
    lines = [f"| row | t / names | LanguageTool alone dev / **test** | grammar (news) test | "
             f"{' | '.join(s.split()[0] + ' test' for s in SIGNALS)} | `--decision off` dev / test | "
             + ("without the LM's words dev / test | " if before else "") + "**default** dev / **test** |",
             "|---|---|---|---|" + "---|" * len(SIGNALS) + "---|---|" + ("---|" if before else "")]  # fmt: skip
    key = lambda r: r["row"].split(" (")[0]  # noqa: E731
    test_rows = {key(r): r for r in test["rows"]}
    old = [{key(r): r for r in b["rows"]} for b in before] if before else None
    for d in dev["rows"]:
        t = test_rows[key(d)]
        name, point = _label(t["row"])
        was = f" {f(old[0][key(d)][LEARNED])} / {f(old[1][key(d)][LEARNED])} |" if old else ""
        lines.append(f"| {name} | {point} | {f(d[LT])} / **{f(t[LT])}** | {f(t[NEWS])} | "
                     + " | ".join(f(t[s]) for s in SIGNALS)
                     + f" | {f(d[OFF])} / {f(t[OFF])} |{was} {f(d[LEARNED])} / **{f(t[LEARNED])}** |")  # fmt: skip
    pair = lambda split, s: f"{f(split['demetr'][s]['detection'])} / {f(split['demetr'][s]['false_alarms'])}"  # noqa: E731
    was = f" {pair(before[0], LEARNED)} / {pair(before[1], LEARNED)} |" if before else ""
    lines.append(f"| DEMETR (all-dev model): detection / clean-MT false alarms | {test['report_threshold']:.3f} / "
                 f"{test['veto_threshold']} | {pair(dev, LT)} / **{pair(test, LT)}** | {pair(test, NEWS)} | "
                 + " | ".join(pair(test, s) for s in SIGNALS)
                 + f" | {pair(dev, OFF)} / {pair(test, OFF)} |{was} {pair(dev, LEARNED)} / **{pair(test, LEARNED)}** |")  # fmt: skip
    return "\n".join(lines)


def _renamed(result: dict) -> dict:
    for row in [*result["rows"], result["demetr"]]:
        if BEFORE_LM in row:
            row[LEARNED] = row.pop(BEFORE_LM)
    return result


def _load(name: str) -> tuple[dict, dict]:
    return tuple(_renamed(json.loads((RESULTS / f"{name}-{s}.json").read_text())) for s in ("dev", "test"))


def main() -> None:
    before = _load("cross-source-no-lm") if (RESULTS / "cross-source-no-lm-test.json").exists() else None
    print(table(*_load("cross-source"), before))


if __name__ == "__main__":
    main()
