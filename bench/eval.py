"""Verdict quality on the labelled answers: precision and recall per verdict.

    python bench/eval.py                 # dev split (the one thresholds are tuned on)
    python bench/eval.py --split test    # the held-out split that figures are reported on
    python bench/eval.py --json          # machine-readable, for the quality gate test

Each label names a claim of an answer (by symbol or by quote) and what its verdict should
be; see ``bench/labelled/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from docvouch.engine import Engine, normalise_text
from docvouch.store import ensure_default_index, resolve_home

LABELLED = Path(__file__).resolve().parent / "labelled"
CONTRADICTING = {"unknown", "invalid_keyword", "removed", "deprecated"}
HALLUCINATED = ("hallucinated_name", "hallucinated_param", "hallucinated_method")
REAL = ("real_name", "real_param", "true_statement")


@dataclass(frozen=True)
class Outcome:
    label: dict[str, Any]
    predicted: str  # "contradicted" | "supported" | "partial" | "unsupported" | "missing"

    @property
    def expected_contradicted(self) -> bool:
        return self.label["expect"] == "contradicted"

    @property
    def predicted_contradicted(self) -> bool:
        return self.predicted == "contradicted"

    @property
    def predicted_backed(self) -> bool:
        return self.predicted in ("supported", "partial")


def _check_labels() -> Any:
    """``bench/labelled/check_labels.py`` as a module: it owns which labels apply here."""
    spec = importlib.util.spec_from_file_location("docvouch_check_labels",
                                                  LABELLED / "check_labels.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_labels(split: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The split's labels this interpreter's docs can decide, and the ones left out.

    A label is left out when its evidence passage came in a later bugfix release than
    the running interpreter (``evidence_since``): the default corpus is built from this
    interpreter's docs, so it cannot hold the fact.
    """
    labels = [orjson.loads(line) for line in (LABELLED / "labels.jsonl").read_bytes().splitlines()
              if line.strip()]
    labels = [lab for lab in labels if split == "all" or lab["split"] == split]
    applies_here = _check_labels().applies_here
    kept = [lab for lab in labels if applies_here(lab)]
    return kept, [lab for lab in labels if not applies_here(lab)]


def predict(label: dict[str, Any], text: str, result: dict[str, Any]) -> str:
    """The verdict our output gives the claim the label is about."""
    target = label["target"]
    if "quote" in target:
        at = text.find(target["quote"])
        for claim in result["claims"]:
            start, end = claim["span"]
            if start <= at < end:
                return claim["verdict"]
        return "missing"
    names = {target["symbol"], label.get("resolve")} - {None}
    matched = [(claim, entry) for claim in result["claims"] for entry in claim["symbols"]
               if entry["name"] in names or entry.get("resolved") in names]
    if not matched:
        return "missing"
    param = label.get("param")
    for _claim, entry in matched:
        if param is not None:
            if entry["status"] == "invalid_keyword" and entry.get("keyword") == param:
                return "contradicted"
        elif entry["status"] in CONTRADICTING:
            return "contradicted"
    verdicts = [claim["verdict"] for claim, _ in matched if claim["verdict"] != "contradicted"]
    return verdicts[0] if verdicts else "partial"


def evaluate(engine: Engine, split: str) -> list[Outcome]:
    by_answer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    kept, _left_out = load_labels(split)
    for label in kept:
        by_answer[label["answer"]].append(label)
    outcomes = []
    for answer, labels in sorted(by_answer.items()):
        text = normalise_text((LABELLED / "answers" / f"{answer}.md").read_text(encoding="utf-8"))
        result = engine.verify(text)
        outcomes.extend(Outcome(label, predict(label, text, result)) for label in labels)
    return outcomes


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    """Precision/recall for `contradicted` and for `supported`+`partial`, and per kind."""
    tp_c = sum(o.expected_contradicted and o.predicted_contradicted for o in outcomes)
    pred_c = sum(o.predicted_contradicted for o in outcomes)
    exp_c = sum(o.expected_contradicted for o in outcomes)
    exp_b = [o for o in outcomes if o.label["expect"] == "supported_or_partial"]
    tp_b = sum(o.predicted_backed for o in exp_b)
    pred_b = [o for o in outcomes if o.predicted_backed
              and o.label["expect"] in ("supported_or_partial", "contradicted")]
    halluc = [o for o in outcomes if o.label["kind"] in HALLUCINATED]
    real = [o for o in outcomes if o.label["kind"] in REAL]
    per_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({o.label["kind"] for o in outcomes}):
        group = [o for o in outcomes if o.label["kind"] == kind]
        per_kind[kind] = {"labels": len(group),
                          **Counter(o.predicted for o in group)}
    return {
        "labels": len(outcomes),
        "contradicted": {"precision": _ratio(tp_c, pred_c), "recall": _ratio(tp_c, exp_c),
                         "support": exp_c},
        "supported_or_partial": {
            "precision": _ratio(sum(o.label["expect"] == "supported_or_partial" for o in pred_b),
                                len(pred_b)),
            "recall": _ratio(tp_b, len(exp_b)), "support": len(exp_b)},
        "hallucinations_caught": _ratio(sum(o.predicted_contradicted for o in halluc),
                                        len(halluc)),
        "real_wrongly_contradicted": _ratio(sum(o.predicted_contradicted for o in real),
                                            len(real)),
        "per_kind": per_kind,
    }


def render(split: str, m: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    lines = [
        f"split: {split} · {m['labels']} labels",
        "",
        "| verdict | precision | recall | labels |",
        "|---|---|---|---|",
        f"| contradicted | {pct(m['contradicted']['precision'])} | "
        f"{pct(m['contradicted']['recall'])} | {m['contradicted']['support']} |",
        f"| supported + partial | {pct(m['supported_or_partial']['precision'])} | "
        f"{pct(m['supported_or_partial']['recall'])} | {m['supported_or_partial']['support']} |",
        "",
        f"hallucinated names/params/methods caught (contradicted): "
        f"{pct(m['hallucinations_caught'])} (target ≥ 90%)",
        f"real names/params/true statements wrongly contradicted: "
        f"{pct(m['real_wrongly_contradicted'])} (target ≤ 3%)",
        "",
        "| kind | labels | contradicted | supported | partial | unsupported | missing |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, row in m["per_kind"].items():
        lines.append(f"| {kind} | {row['labels']} | " + " | ".join(
            str(row.get(v, 0)) for v in ("contradicted", "supported", "partial", "unsupported",
                                          "missing")) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--home", help="DOCVOUCH_HOME holding the default corpus")
    parser.add_argument("--show", choices=("errors", "none"), default="none",
                        help="list the labels the engine gets wrong (dev split only!)")
    args = parser.parse_args(argv)
    engine = Engine.open(ensure_default_index(resolve_home(args.home)))
    outcomes = evaluate(engine, args.split)
    m = metrics(outcomes)
    _kept, left_out = load_labels(args.split)
    here = ".".join(map(str, sys.version_info[:3]))
    m["left_out"] = [{"answer": lab["answer"], "target": lab["target"],
                      "evidence_since": lab["evidence_since"]} for lab in left_out]
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(m, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(render(args.split, m))
        for lab in left_out:
            print(f"left out on Python {here}: {lab['answer']} {lab['target']} (its evidence "
                  f"is not in this interpreter's docs; it is from {lab['evidence_since']} on)")
    if args.show == "errors":
        for o in outcomes:
            wrong = (o.expected_contradicted != o.predicted_contradicted) or (
                o.label["expect"] == "supported_or_partial" and not o.predicted_backed)
            if wrong:
                print(f"- {o.label['answer']} {o.label['kind']} {o.label['target']} "
                      f"{o.label.get('param', '')} → {o.predicted} ({o.label['note']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
