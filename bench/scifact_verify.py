"""SciFact claim verification with DocVouch's engine: label accuracy, macro-F1, recall@3.

    python bench/scifact_verify.py                    # data from ../shared/data/scifact
    python bench/scifact_verify.py --data DIR --out bench/out/scifact_verify.md

How: one index over the 5,183 abstracts (``build_index``: title + abstract, one passage per
abstract), then ``Engine.verify(claim)`` for every claim — the same pipeline an answer goes
through (claim extraction, BM25 top-10, IDF-weighted coverage, rapidfuzz alignment,
verdict). The engine, not the matching functions alone, is used on purpose: it is what a
user runs, and a SciFact claim is one sentence, i.e. one answer claim.

Verdict → SciFact label, documented and fixed before looking at dev:

* ``contradicted`` → CONTRADICT
* ``supported`` → SUPPORT; ``partial`` → SUPPORT when the claim's score ≥ θ, else NEI
* ``unsupported`` (or no checkable claim) → NOT ENOUGH INFO

θ is the one tuned parameter, chosen on the 809 *train* claims for macro-F1; the untuned
mapping (θ = 0: every ``partial`` is SUPPORT) is reported too. A claim the extractor splits
into several takes its weakest verdict. Abstract retrieval recall@3 is
``Index.search(claim, k=3)`` against the gold evidence abstracts, as in the SciFact paper.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rank_bm25 import BM25Okapi

from benchkit import (
    classification,
    dataset_dir,
    emit,
    f3,
    machine,
    majority,
    mean,
    pct,
    progress,
    read_jsonl,
    table,
)
from docvouch.engine import Engine
from docvouch.index import build_index
from docvouch.passages import Passage

DATASET = "scifact"
REQUIRED = ("corpus.jsonl", "claims_train.jsonl", "claims_dev.jsonl")
LABELS = ("SUPPORT", "CONTRADICT", "NOT ENOUGH INFO")
NEI = "NOT ENOUGH INFO"
WEAKEST = ("contradicted", "unsupported", "partial", "supported")  # first found wins
THETAS = tuple(round(x, 2) for x in np.arange(0.40, 0.86, 0.01))
_DOC_RE = re.compile(r"scifact/(\d+)")
# Figures from the SciFact paper, for orientation only: they are measured on the *test*
# split with abstract-level metrics, not claim-level accuracy (see the report's notes).
PUBLISHED = (
    ("VeriSci (RoBERTa-large pipeline, TF-IDF top-3 retrieval), open setting, test",
     "abstract-level Label+Rationale F1 46.5; sentence-level Selection+Label F1 39.5",
     "Wadden et al., Fact or Fiction: Verifying Scientific Claims, EMNLP 2020, Table 4"),
    ("VeriSci label predictor given the gold rationales, dev",
     "label accuracy 81.9%",
     "Wadden et al. 2020, Table 3 (label prediction, FEVER + SciFact training)"),
)


def claim_label(claim: dict[str, Any]) -> str:
    """SUPPORT / CONTRADICT from the evidence sets; no evidence is NOT ENOUGH INFO."""
    labels = [s["label"] for sets in (claim.get("evidence") or {}).values() for s in sets]
    if not labels:
        return NEI
    return max(set(labels), key=labels.count)


def build_engine(corpus: list[dict[str, Any]], directory: Path) -> tuple[Engine, float]:
    passages = [Passage(id=str(d["doc_id"]), url=f"scifact/{d['doc_id']}",
                        title=d.get("title") or "", text=" ".join(d.get("abstract") or []))
                for d in corpus]
    started = time.perf_counter()
    build_index(directory, passages, [], corpus={"name": "scifact", "version": "2020-05-01"})
    return Engine.open(directory), time.perf_counter() - started


def judge_claims(engine: Engine, claims: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdict, score and best evidence abstract of each claim, from ``Engine.verify``."""
    out = []
    for claim in claims:
        result = engine.verify(claim["claim"], top_k=10)
        judged = result["claims"]
        if not judged:
            out.append({"verdict": "unsupported", "score": 0.0, "doc": None, "parts": 0})
            continue
        weakest = min(judged, key=lambda c: (WEAKEST.index(c["verdict"]), c["score"]))
        evidence = [m.group(1) for e in weakest["evidence"]
                    if (m := _DOC_RE.search(e.get("url", "")))]
        out.append({"verdict": weakest["verdict"], "score": float(weakest["score"]),
                    "doc": evidence[0] if evidence else None, "parts": len(judged)})
    return out


def to_label(judged: dict[str, Any], theta: float) -> str:
    verdict = judged["verdict"]
    if verdict == "contradicted":
        return "CONTRADICT"
    if verdict == "supported" or (verdict == "partial" and judged["score"] >= theta):
        return "SUPPORT"
    return NEI


def choose_theta(judged: Sequence[dict[str, Any]], gold: Sequence[str]) -> tuple[float, float]:
    """θ with the best train macro-F1 (ties: the smallest θ)."""
    best = (-1.0, 0.0)
    for theta in THETAS:
        f1 = classification(gold, [to_label(j, theta) for j in judged], LABELS)["macro_f1"]
        if f1 > best[0] + 1e-12:
            best = (f1, theta)
    return best[1], best[0]


def abstract_f1(claims: Sequence[dict[str, Any]], judged: Sequence[dict[str, Any]],
                predicted: Sequence[str]) -> dict[str, float]:
    """SciFact's abstract-level Label-Only F1 with our best evidence abstract as the prediction."""
    gold_pairs = {(c["id"], doc): claim_label({"evidence": {doc: sets}})
                  for c in claims for doc, sets in (c.get("evidence") or {}).items()}
    predictions = [(c["id"], j["doc"], label) for c, j, label in zip(claims, judged, predicted,
                                                                      strict=True)
                   if label != NEI and j["doc"] is not None]
    correct = sum(gold_pairs.get((cid, doc)) == label for cid, doc, label in predictions)
    precision = correct / len(predictions) if predictions else 0.0
    recall = correct / len(gold_pairs) if gold_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def retrieval_recall(engine: Engine, corpus: list[dict[str, Any]],
                     claims: Sequence[dict[str, Any]], k: int = 3) -> dict[str, float]:
    """Recall@k of the gold evidence abstracts: ours (the index) and rank-bm25's."""
    with_evidence = [c for c in claims if c.get("evidence")]
    ids = [str(d["doc_id"]) for d in corpus]
    ours, theirs = [], []
    model = BM25Okapi([f"{d.get('title') or ''} {' '.join(d.get('abstract') or [])}"
                       .lower().split() for d in corpus])
    for claim in with_evidence:
        gold = set(claim["evidence"])
        hits = engine.index.search(claim["claim"], k=k)
        ours.append(len(gold & {ids[h.passage] for h in hits}) / len(gold))
        scores = model.get_scores(claim["claim"].lower().split())
        top = np.lexsort((np.arange(len(scores)), -scores))[:k]
        theirs.append(len(gold & {ids[i] for i in top}) / len(gold))
    return {"claims": len(with_evidence), "docvouch": mean(ours), "rank_bm25": mean(theirs)}


def run(folder: Path) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    corpus = read_jsonl(folder / "corpus.jsonl")
    train = read_jsonl(folder / "claims_train.jsonl")
    dev = read_jsonl(folder / "claims_dev.jsonl")
    with tempfile.TemporaryDirectory(prefix="docvouch-scifact-") as tmp:
        engine, build_s = build_engine(corpus, Path(tmp) / "index")
        progress(f"scifact index built in {build_s:.1f} s")
        train_judged = judge_claims(engine, train)
        dev_judged = judge_claims(engine, dev)
        progress("claims judged")
        recall = retrieval_recall(engine, corpus, dev)
        engine.index.close()
    train_gold = [claim_label(c) for c in train]
    dev_gold = [claim_label(c) for c in dev]
    theta, train_f1 = choose_theta(train_judged, train_gold)
    tuned_pred = [to_label(j, theta) for j in dev_judged]
    untuned_pred = [to_label(j, 0.0) for j in dev_judged]
    payload = {
        "dataset": DATASET, "corpus": len(corpus), "train_claims": len(train),
        "dev_claims": len(dev), "theta": theta, "train_macro_f1_at_theta": train_f1,
        "tuned": classification(dev_gold, tuned_pred, LABELS),
        "untuned": classification(dev_gold, untuned_pred, LABELS),
        "majority": majority(dev_gold, LABELS),
        "abstract_label_only": abstract_f1(dev, dev_judged, tuned_pred),
        "retrieval_recall@3": recall,
        "verdicts_dev": {v: sum(j["verdict"] == v for j in dev_judged) for v in WEAKEST},
        "no_claim_extracted_dev": sum(j["parts"] == 0 for j in dev_judged),
        "published": [{"system": s, "figure": f, "source": src} for s, f, src in PUBLISHED],
        "build_seconds": round(build_s, 2), "seconds": round(time.perf_counter() - started, 1),
    }
    return render(payload), payload


def render(p: dict[str, Any]) -> str:
    t, u, m = p["tuned"], p["untuned"], p["majority"]
    r = p["retrieval_recall@3"]
    conf = t["confusion"]
    lines = [
        "### Claim verification: SciFact (dev)",
        "",
        f"{p['corpus']:,} abstracts indexed with `build_index`; {p['dev_claims']} dev claims "
        f"through `Engine.verify`; θ chosen on {p['train_claims']} train claims "
        f"(θ = {p['theta']:.2f}, train macro-F1 {f3(p['train_macro_f1_at_theta'])}); "
        f"{p['seconds']} s in all.",
        "",
        table(["mapping", "accuracy", "macro-F1", "SUPPORT F1", "CONTRADICT F1", "NEI F1"],
              [(name, pct(c["accuracy"]), f3(c["macro_f1"]),
                *(f3(c["per_class"][label]["f1"]) for label in LABELS))
               for name, c in (
                   (f"DocVouch, partial → SUPPORT iff score ≥ θ = {p['theta']:.2f} (train)", t),
                   ("DocVouch, untuned (every partial → SUPPORT)", u),
                   (f"majority class ({m['label']})", m))]),
        "",
        "Confusion of the tuned mapping (rows gold, columns predicted):",
        "",
        table(["gold \\ predicted", *LABELS],
              [(g, *(conf[g][q] for q in LABELS)) for g in LABELS]),
        "",
        table(["abstract retrieval, dev claims with evidence", "recall@3"],
              [(f"DocVouch index (`Index.search`, k = 3), {r['claims']} claims",
                f3(r["docvouch"])),
               ("rank-bm25 `BM25Okapi`, whitespace tokens, same claims", f3(r["rank_bm25"]))]),
        "",
        f"SciFact's own abstract-level Label-Only F1 (our best evidence abstract as the "
        f"prediction, tuned mapping): {f3(p['abstract_label_only']['f1'])} "
        f"(P {f3(p['abstract_label_only']['precision'])}, "
        f"R {f3(p['abstract_label_only']['recall'])}).",
        "",
        "Published SciFact figures for orientation (different split and metrics, so not "
        "like for like; read from summaries of the paper, not re-checked against the PDF "
        "here). The paper gives no claim-level accuracy or macro-F1 for its open pipeline, "
        "so none is compared directly:",
        "",
        *(f"- {s}: {f} — {src}." for s, f, src in PUBLISHED),
        "",
        "Where a lexical method falls short: DocVouch's `contradicted` comes from symbol, "
        "version and default-value checks, none of which exist for biomedical prose, so "
        "CONTRADICT is never predicted (recall 0). A refuting abstract shares the claim's "
        "vocabulary as much as a supporting one does (dev verdicts: "
        + ", ".join(f"{v} {n}" for v, n in p["verdicts_dev"].items())
        + "); coverage and alignment measure topicality, not entailment, so the score mainly "
        "separates claims whose cited abstract holds evidence from NEI claims. Telling "
        "SUPPORT from CONTRADICT needs an entailment model (VeriSci's label predictor) or "
        "rules for negation, direction (increase/decrease) and quantities.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", help="folder holding scifact/ (default ../shared/data)")
    parser.add_argument("--out", type=Path, help="write the markdown fragment here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    folder = dataset_dir(args.data, DATASET, REQUIRED)
    if folder is None:
        return 0
    print(f"machine: {machine()}", file=sys.stderr)
    markdown, payload = run(folder)
    emit(markdown, out=args.out, json_out=args.json, payload=payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
