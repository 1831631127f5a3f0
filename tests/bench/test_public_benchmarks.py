"""The issue-8 benchmark scripts run end to end on tiny synthetic data, and skip cleanly.

The real data lives outside the repository (``../shared/data``); CI has none of it, so each
script is run here on a few made-up records in its dataset's own file layout. The figures
are meaningless; what is checked is that every script runs, writes its markdown fragment and
JSON, and that a missing dataset prints "skipped: data not found at …" and exits 0.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
_VOCABULARY = ("protein kinase receptor insulin tumour growth cell mouse gene expression "
               "neuron vaccine antibody dose trial cancer risk heart blood pressure glucose "
               "liver immune response infection virus bacteria climate ocean carbon warming "
               "ice sea level storm forest emission temperature drought")
WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random, n: int = 8) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _make_data(root: Path) -> None:
    rng = random.Random(8)
    # BEIR SciFact layout: corpus.jsonl, queries.jsonl, qrels/{train,test}.tsv
    docs = [{"_id": str(1000 + i), "title": _sentence(rng, 5),
             "text": " ".join(_sentence(rng) for _ in range(4))} for i in range(30)]
    _write_jsonl(root / "scifact_beir" / "corpus.jsonl", docs)
    queries = []
    train, test = ["query-id\tcorpus-id\tscore"], ["query-id\tcorpus-id\tscore"]
    for q in range(14):
        doc = docs[rng.randrange(len(docs))]
        queries.append({"_id": str(q), "text": doc["title"], "metadata": {}})
        (train if q < 9 else test).append(f"{q}\t{doc['_id']}\t1")
    _write_jsonl(root / "scifact_beir" / "queries.jsonl", queries)
    (root / "scifact_beir" / "qrels").mkdir()
    (root / "scifact_beir" / "qrels" / "train.tsv").write_text("\n".join(train) + "\n")
    (root / "scifact_beir" / "qrels" / "test.tsv").write_text("\n".join(test) + "\n")
    # SciFact release layout: corpus.jsonl (abstract as sentences), claims_{train,dev}.jsonl
    abstracts = [{"doc_id": 2000 + i, "title": _sentence(rng, 5),
                  "abstract": [_sentence(rng) for _ in range(4)], "structured": False}
                 for i in range(30)]
    _write_jsonl(root / "scifact" / "corpus.jsonl", abstracts)
    for split, count in (("train", 15), ("dev", 9)):
        claims = []
        for c in range(count):
            doc = abstracts[rng.randrange(len(abstracts))]
            label = ("SUPPORT", "CONTRADICT", None)[c % 3]
            evidence = {} if label is None else {
                str(doc["doc_id"]): [{"sentences": [0], "label": label}]}
            claims.append({"id": c, "claim": doc["abstract"][0], "evidence": evidence,
                           "cited_doc_ids": [doc["doc_id"]]})
        _write_jsonl(root / "scifact" / f"claims_{split}.jsonl", claims)
    # FEVER-Symmetric: claim + one evidence sentence, SUPPORTS / REFUTES
    for split in ("dev", "test"):
        rows = []
        for i in range(10):
            claim = _sentence(rng, 6)
            label = "SUPPORTS" if i % 2 else "REFUTES"
            evidence = claim if label == "SUPPORTS" else _sentence(rng, 10)
            rows.append({"id": str(i), "claim": claim, "evidence": evidence,
                         "gold_label": label, "label": label})
        _write_jsonl(root / "fever_symmetric" / f"fever_symmetric_{split}.jsonl", rows)
    # Climate-FEVER: claims with five labelled evidence sentences each
    labels = ("SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO")
    claims = [{"claim_id": str(c), "claim": _sentence(rng, 7), "claim_label": "SUPPORTS",
               "evidences": [{"evidence_id": f"A:{c}{e}", "evidence_label": labels[(c + e) % 3],
                              "article": "Article", "evidence": _sentence(rng, 12)}
                             for e in range(5)]} for c in range(6)]
    _write_jsonl(root / "climate_fever" / "climate-fever.jsonl", claims)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-data")
    _make_data(root)
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DOCVOUCH_BENCH_DATA", None)
    return env


def _run(script: str, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / script), *args], cwd=ROOT,
                          env=env or _env(), capture_output=True, text=True, timeout=240,
                          check=False)


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def test_beir_scifact_runs_on_tiny_data(tiny_data: Path, tmp_path: Path) -> None:
    done = _run("beir_scifact.py", "--data", str(tiny_data), "--quick",
                "--out", str(tmp_path / "f.md"), "--json", str(tmp_path / "f.json"))
    _ok(done)
    figures = json.loads((tmp_path / "f.json").read_text())
    assert len(figures["rows"]) == 4
    assert all(0.0 <= row["ndcg@10"] <= 1.0 and 0.0 <= row["recall@100"] <= 1.0
               for row in figures["rows"])
    assert figures["twin_same_top10"] == 1.0  # the in-memory twin ranks as the index does
    assert "Train-query choice" in (tmp_path / "f.md").read_text()


def test_scifact_verify_runs_on_tiny_data(tiny_data: Path, tmp_path: Path) -> None:
    done = _run("scifact_verify.py", "--data", str(tiny_data),
                "--out", str(tmp_path / "f.md"), "--json", str(tmp_path / "f.json"))
    _ok(done)
    figures = json.loads((tmp_path / "f.json").read_text())
    assert figures["dev_claims"] == 9
    assert 0.0 <= figures["tuned"]["accuracy"] <= 1.0
    assert set(figures["tuned"]["per_class"]) == {"SUPPORT", "CONTRADICT", "NOT ENOUGH INFO"}
    assert 0.0 <= figures["retrieval_recall@3"]["docvouch"] <= 1.0
    assert "Claim verification: SciFact" in (tmp_path / "f.md").read_text()


def test_claim_evidence_runs_on_tiny_data(tiny_data: Path, tmp_path: Path) -> None:
    done = _run("claim_evidence.py", "--data", str(tiny_data),
                "--out", str(tmp_path / "f.md"), "--json", str(tmp_path / "f.json"))
    _ok(done)
    figures = json.loads((tmp_path / "f.json").read_text())
    names = [r["name"] for r in figures["results"]]
    assert names == ["FEVER-Symmetric v0.2", "Climate-FEVER"]
    for result in figures["results"]:
        assert 0.0 <= result["tuned"]["balanced_accuracy"] <= 1.0
        assert result["majority"]["balanced_accuracy"] == pytest.approx(
            1 / len([lab for lab in result["labels"]
                     if result["majority"]["per_class"][lab]["support"]]))


def test_scaling_runs_small_and_draws_the_plot(docvouch_home: Path, tmp_path: Path) -> None:
    plot = tmp_path / "scaling.png"
    done = _run("scaling.py", "--sizes", "300,600", "--runs", "2", "--reference-runs", "1,0",
                "--home", str(docvouch_home), "--plot", str(plot),
                "--out", str(tmp_path / "f.md"), "--json", str(tmp_path / "f.json"))
    _ok(done)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads((tmp_path / "f.json").read_text())["rows"]
    assert [r["passages"] for r in rows] == [300, 600]
    assert all(r["cold_p50"] > 0 and r["warm_p50"] > 0 and r["build_s"] > 0 for r in rows)
    assert rows[0]["ref_p50"] > 0 and "ref_p50" not in rows[1]  # 0 reference runs: not run
    fragment = (tmp_path / "f.md").read_text()
    assert "| 600 |" in fragment and "not run" in fragment


@pytest.mark.parametrize("script", ["beir_scifact.py", "scifact_verify.py",
                                    "claim_evidence.py"])
def test_missing_data_is_skipped_with_exit_0(script: str, tmp_path: Path) -> None:
    done = _run(script, "--data", str(tmp_path / "nowhere"))
    _ok(done)
    assert "skipped: data not found at" in done.stdout


def test_the_data_location_comes_from_the_environment(tmp_path: Path) -> None:
    env = _env() | {"DOCVOUCH_BENCH_DATA": str(tmp_path / "empty")}
    done = _run("beir_scifact.py", env=env)
    _ok(done)
    assert f"skipped: data not found at {tmp_path / 'empty' / 'scifact_beir'}" in done.stdout


def test_runner_replaces_only_its_own_section(tiny_data: Path, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Engine latency (issue 2)\n\nkeep me\n\n"
                       "## Public benchmarks (issue 8)\n\nold figures\n\n"
                       "## HTTP service throughput (issue 3)\n\nkeep me too\n")
    done = _run("public.py", "--data", str(tiny_data), "--quick", "--skip", "scaling",
                "--out", str(tmp_path / "out"), "--write", str(results))
    _ok(done)
    text = results.read_text()
    assert "keep me\n" in text and "keep me too" in text and "old figures" not in text
    assert text.count("## Public benchmarks (issue 8)") == 1
    assert text.index("issue 2") < text.index("issue 8") < text.index("issue 3")
    for heading in ("Retrieval: BEIR SciFact", "Claim verification: SciFact",
                    "Claim–evidence pairs"):
        assert heading in text
    assert str(tiny_data) not in text  # no machine paths in the results file
