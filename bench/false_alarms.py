"""False alarms: how many claims of answers that are correct throughout come back contradicted.

    python bench/false_alarms.py                 # every set, counts
    python bench/false_alarms.py --show          # and each contradicted claim with its reason
    python bench/false_alarms.py --set heldout4  # one set (tuned, heldout, heldout2..4)

``bench/correct_answers`` was used to find and fix false alarms (a ratchet:
``tests/eval/test_false_alarms.py``); ``bench/correct_answers_heldout`` and then
``bench/correct_answers_heldout2`` were written blind to the engine, measured once, then
used for fixes of what they found (their READMEs give both figures);
``bench/correct_answers_heldout3`` and ``_heldout4``, written blind after those fixes, are
only measured.
Every claim of every set is correct, so every ``contradicted`` verdict is a false alarm.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import orjson

from docvouch.engine import Engine
from docvouch.store import ensure_default_index, resolve_home

BENCH = Path(__file__).resolve().parent
SETS = {"tuned": BENCH / "correct_answers", "heldout": BENCH / "correct_answers_heldout",
        "heldout2": BENCH / "correct_answers_heldout2",
        "heldout3": BENCH / "correct_answers_heldout3",
        "heldout4": BENCH / "correct_answers_heldout4"}
ANSWER_GLOB = "[ahgkm][0-9]*.md"


def false_alarms(engine: Engine, folder: Path) -> tuple[int, list[tuple[str, str, str]]]:
    """(claims, [(answer, claim text, reason)]) over the folder's answers."""
    verdicts, alarms = verdicts_and_alarms(engine, folder)
    return sum(verdicts.values()), alarms


def verdicts_and_alarms(engine: Engine, folder: Path
                        ) -> tuple[Counter[str], list[tuple[str, str, str]]]:
    """How many claims got each verdict, and the contradicted ones (answer, text, reason)."""
    verdicts: Counter[str] = Counter()
    alarms = []
    for path in sorted(folder.glob(ANSWER_GLOB)):
        for claim in engine.verify(path.read_text(encoding="utf-8"))["claims"]:
            verdicts[claim["verdict"]] += 1
            if claim["verdict"] == "contradicted":
                alarms.append((path.stem, claim["text"], claim["reason"]))
    return verdicts, alarms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all")
    parser.add_argument("--home", help="DOCVOUCH_HOME holding the default corpus")
    parser.add_argument("--show", action="store_true", help="list each contradicted claim")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = Engine.open(ensure_default_index(resolve_home(args.home)))
    names = list(SETS) if args.set == "all" else [args.set]
    report = {}
    for name in names:
        verdicts, alarms = verdicts_and_alarms(engine, SETS[name])
        report[name] = {"answers": len(list(SETS[name].glob(ANSWER_GLOB))),
                        "claims": sum(verdicts.values()), "contradicted": len(alarms),
                        "verdicts": dict(sorted(verdicts.items())),
                        "alarms": [dict(zip(("answer", "claim", "reason"), a, strict=True))
                                   for a in alarms]}
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    for name, row in report.items():
        share = row["contradicted"] / row["claims"] if row["claims"] else 0.0
        others = ", ".join(f"{n} {v}" for v, n in row["verdicts"].items() if v != "contradicted")
        print(f"{name}: {row['answers']} answers, {row['claims']} claims, "
              f"{row['contradicted']} contradicted ({share:.1%}); {others}")
        if args.show:
            for alarm in row["alarms"]:
                print(f"  {alarm['answer']}: {alarm['claim'][:100]!r}\n    {alarm['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
