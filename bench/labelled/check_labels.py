"""Validate the hand-labelled verifier evaluation data against the running interpreter.

The data in this folder (``answers/*.md`` and ``labels.jsonl``) is about the Python 3.11
standard library and language.  This script proves, with this interpreter's own
introspection, that the labels say what they claim:

* every line of ``labels.jsonl`` parses and has the required fields and allowed values;
* every answer file exists, is 80-400 words, and has at least one label; every answer
  file on disk is labelled; all labels of one answer are in the same split;
* every ``quote`` target occurs exactly once in its answer, on one line, outside fenced
  code, within one sentence;
* every ``symbol`` target occurs inside a code span (inline or fenced) of its answer,
  and for parameter labels ``param=`` occurs in the same code span;
* every ``real_name`` resolves (``importlib`` plus ``getattr``; builtin types such as
  ``str`` and ``dict`` resolve from :mod:`builtins`) and every ``hallucinated_name`` /
  ``hallucinated_method`` does not, while its parent (module, class or type) does;
* every ``real_param`` is accepted by the signature (or, for callables without a
  signature or with ``**kwargs``, is named in the docstring or in the signature of the
  callable the keywords are forwarded to), and every ``hallucinated_param`` is not
  (a positional-only parameter passed by keyword also counts as not accepted);
* every prose label (``true_statement`` / ``false_statement``) carries ``evidence``: a
  passage of this interpreter's docstrings or pydoc language-reference topics that
  states the true fact, and the evidence text is really there.  A label whose passage
  was added in a later 3.11 bugfix release says so with ``evidence_since``; on an older
  interpreter that lacks the passage, the label does not apply (it is listed, and
  ``bench/eval.py`` leaves it out), while from that release on a missing passage is a
  problem like any other.

It prints counts per kind and split and exits non-zero on any problem.

Usage: ``python bench/labelled/check_labels.py``
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ANSWERS = HERE / "answers"
LABELS = HERE / "labels.jsonl"

EXPECT_FOR_KIND: dict[str, str] = {
    "hallucinated_name": "contradicted",
    "hallucinated_param": "contradicted",
    "hallucinated_method": "contradicted",
    "real_name": "not_contradicted",
    "real_param": "not_contradicted",
    "true_statement": "supported_or_partial",
    "false_statement": "contradicted",
}
SYMBOL_KINDS = {
    "hallucinated_name",
    "hallucinated_param",
    "hallucinated_method",
    "real_name",
    "real_param",
}
PROSE_KINDS = {"true_statement", "false_statement"}
PARAM_KINDS = {"hallucinated_param", "real_param"}
REQUIRED = ("answer", "split", "target", "kind", "expect", "note")
OPTIONAL = ("param", "resolve", "evidence", "evidence_since")

# Each split must contain at least one label of these kinds.
SPLIT_MUST_HAVE = (
    "hallucinated_name",
    "hallucinated_param",
    "hallucinated_method",
    "real_name",
    "real_param",
    "true_statement",
    "false_statement",
)

# Callables whose ``**kwargs`` are passed on to another documented callable.
FORWARDS: dict[str, str] = {
    "subprocess.run": "subprocess.Popen",
    "subprocess.check_output": "subprocess.Popen",
    "subprocess.check_call": "subprocess.Popen",
    "subprocess.call": "subprocess.Popen",
    "json.dumps": "json.JSONEncoder",
    "json.dump": "json.JSONEncoder",
    "json.loads": "json.JSONDecoder",
    "json.load": "json.JSONDecoder",
    "textwrap.wrap": "textwrap.TextWrapper",
    "textwrap.fill": "textwrap.TextWrapper",
    "textwrap.shorten": "textwrap.TextWrapper",
    "argparse.ArgumentParser.add_argument": "argparse.Action",
    # the csv reader/writer keyword settings are documented in the module docstring
    "csv.reader": "csv",
    "csv.writer": "csv",
    "csv.DictReader": "csv",
    "csv.DictWriter": "csv",
}

# Resolve names against the standard library only, never against files next to this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def resolve(dotted: str) -> Any:
    """Return the object named by ``dotted``; raise ``LookupError`` when it does not exist.

    The first part is imported as a module, else taken from builtins (``str``, ``dict``,
    ``sorted``...).  Each later part is looked up as an attribute first (so
    ``unittest.main`` is the ``TestProgram`` the package exports, not the submodule) and,
    failing that, imported as a submodule (``http.server``, ``concurrent.futures``).
    """
    parts = dotted.split(".")
    try:
        obj: Any = importlib.import_module(parts[0])
    except ImportError:
        if not hasattr(builtins, parts[0]):
            raise LookupError(f"no module or builtin named {parts[0]!r}") from None
        obj = getattr(builtins, parts[0])
    for i, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if inspect.ismodule(obj):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                pass
            else:
                continue
        raise LookupError(f"{dotted}: {'.'.join(parts[: i - 1])} has no attribute {part!r}")
    return obj


def exists(dotted: str) -> bool:
    """Whether ``dotted`` resolves in this interpreter."""
    try:
        resolve(dotted)
    except LookupError:
        return False
    return True


def word_in(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` as a whole identifier (not part of a longer one)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def param_status(dotted: str, param: str) -> tuple[str, str]:
    """Classify ``param`` for the callable ``dotted``.

    Returns ``(status, how)`` where status is ``"yes"`` (accepted by keyword), ``"no"``
    (not accepted) or ``"positional_only"``, and ``how`` says what decided it.
    """
    obj = resolve(dotted)
    try:
        sig: inspect.Signature | None = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    doc = inspect.getdoc(obj) or ""
    if sig is not None:
        p = sig.parameters.get(param)
        if p is not None and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if p.kind is p.POSITIONAL_ONLY:
                return "positional_only", f"signature {sig}"
            return "yes", f"signature {sig}"
        has_var_kw = any(q.kind is q.VAR_KEYWORD for q in sig.parameters.values())
        if not has_var_kw:
            return "no", f"signature {sig}"
        if dotted in FORWARDS:
            status, how = param_status(FORWARDS[dotted], param)
            return status, f"**kwargs forwarded to {FORWARDS[dotted]}: {how}"
        return ("yes" if word_in(doc, param) else "no"), "**kwargs; docstring"
    if word_in(doc, param):
        return "yes", "no signature; docstring"
    if dotted in FORWARDS:
        status, how = param_status(FORWARDS[dotted], param)
        return status, f"no signature; keywords documented at {FORWARDS[dotted]}: {how}"
    return "no", "no signature; docstring"


def doc_text(ref: str) -> str:
    """The documentation text for an evidence reference (dotted name or ``topic:NAME``)."""
    if ref.startswith("topic:"):
        from pydoc_data.topics import topics

        return topics[ref.removeprefix("topic:")]
    obj = resolve(ref)
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        sig = ""
    return f"{ref.rsplit('.', 1)[-1]}{sig}\n{inspect.getdoc(obj) or ''}"


def norm(text: str) -> str:
    """Collapse whitespace so evidence matches across line wrapping."""
    return " ".join(text.split())


def release(version: str) -> tuple[int, ...]:
    """``"3.11.7"`` as ``(3, 11, 7)``; raise ``ValueError`` for anything else."""
    parts = version.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"not a release number like 3.11.7: {version!r}")
    return tuple(int(part) for part in parts)


def evidence_present(evidence: dict[str, str]) -> bool:
    """Whether the evidence passage is in this interpreter's docs of ``evidence["doc"]``."""
    return norm(evidence["text"]) in norm(doc_text(evidence["doc"]))


def applies_here(label: dict[str, Any]) -> bool:
    """Whether this interpreter's docs can decide the label.

    Only a label with ``evidence_since`` can fail to apply: on an interpreter older than
    that release whose docs lack the passage, the fact is not in the default corpus, so
    neither a verdict nor a miss on it says anything about the verifier.
    """
    since = label.get("evidence_since")
    if since is None or sys.version_info[:3] >= release(since):
        return True
    try:
        return evidence_present(label["evidence"])
    except (LookupError, KeyError):
        return True  # let the evidence check report it


def code_spans(md: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Return (code span texts, character ranges of fenced blocks) of a markdown answer."""
    spans: list[str] = []
    fenced: list[tuple[int, int]] = []
    for m in re.finditer(r"^```[^\n]*\n.*?^```[ \t]*$", md, flags=re.M | re.S):
        spans.append(m.group(0))
        fenced.append((m.start(), m.end()))
    outside = md
    for start, end in reversed(fenced):
        outside = outside[:start] + " " * (end - start) + outside[end:]
    spans.extend(m.group(1) for m in re.finditer(r"`([^`\n]+)`", outside))
    return spans, fenced


def check_label(n: int, label: dict[str, Any], texts: dict[str, str], problems: list[str]) -> None:
    """Append every problem with one label to ``problems``."""
    where = f"labels.jsonl:{n}"

    def bad(msg: str) -> None:
        problems.append(f"{where} ({label.get('answer')}): {msg}")

    missing = [k for k in REQUIRED if k not in label]
    if missing:
        bad(f"missing fields {missing}")
        return
    extra = set(label) - set(REQUIRED) - set(OPTIONAL)
    if extra:
        bad(f"unknown fields {sorted(extra)}")
    kind, expect = label["kind"], label["expect"]
    if kind not in EXPECT_FOR_KIND:
        bad(f"unknown kind {kind!r}")
        return
    if expect != EXPECT_FOR_KIND[kind]:
        bad(f"kind {kind} needs expect {EXPECT_FOR_KIND[kind]!r}, got {expect!r}")
    if label["split"] not in ("dev", "test"):
        bad(f"split must be dev or test, got {label['split']!r}")
    if not isinstance(label["note"], str) or not label["note"].strip():
        bad("note must be a non-empty string")
    md = texts.get(label["answer"])
    if md is None:
        bad(f"answer file answers/{label['answer']}.md does not exist")
        return
    target = label["target"]
    if not isinstance(target, dict) or len(target) != 1:
        bad("target must be an object with exactly one of 'symbol' or 'quote'")
        return
    spans, fenced = code_spans(md)

    if "quote" in target:
        quote = target["quote"]
        if kind not in PROSE_KINDS:
            bad(f"quote targets are for prose kinds, not {kind}")
        count = md.count(quote)
        if count != 1:
            bad(f"quote occurs {count} times (must be exactly once): {quote!r}")
        else:
            pos = md.index(quote)
            if any(start <= pos < end for start, end in fenced):
                bad(f"quote lies inside a fenced code block: {quote!r}")
        if "\n" in quote:
            bad(f"quote spans lines: {quote!r}")
        if re.search(r"[.!?]\s+[A-Z`]", quote):
            bad(f"quote seems to span sentences: {quote!r}")
        evidence = label.get("evidence")
        if not isinstance(evidence, dict) or set(evidence) != {"doc", "text"}:
            bad("prose labels need evidence {'doc': ..., 'text': ...}")
        else:
            since = label.get("evidence_since")
            if since is not None:
                try:
                    release(since)
                except ValueError as exc:
                    bad(f"evidence_since: {exc}")
                    return
            try:
                present = evidence_present(evidence)
            except (LookupError, KeyError) as exc:
                bad(f"evidence doc {evidence['doc']!r} not found: {exc}")
            else:
                if not present and applies_here(label):
                    bad(f"evidence text not in docs of {evidence['doc']}: {evidence['text']!r}")
        return

    if "symbol" not in target:
        bad("target must have 'symbol' or 'quote'")
        return
    symbol = target["symbol"]
    if kind not in SYMBOL_KINDS:
        bad(f"symbol targets are for name/param kinds, not {kind}")
        return
    if not any(symbol in span for span in spans):
        bad(f"symbol {symbol!r} does not occur in a code span of the answer")
    dotted = label.get("resolve", symbol)

    if kind in PARAM_KINDS:
        param = label.get("param")
        if not isinstance(param, str) or not param:
            bad("parameter labels need 'param'")
            return
        if not any(symbol in span and f"{param}=" in span for span in spans):
            bad(f"no code span has both {symbol!r} and '{param}='")
        try:
            status, how = param_status(dotted, param)
        except LookupError as exc:
            bad(f"cannot resolve callable {dotted!r}: {exc}")
            return
        if kind == "real_param" and status != "yes":
            bad(f"{dotted}({param}=...) is not accepted ({status}; {how})")
        if kind == "hallucinated_param" and status == "yes":
            bad(f"{dotted}({param}=...) IS accepted ({how})")
        return

    if kind == "real_name":
        if not exists(dotted):
            bad(f"real name {dotted!r} does not exist in this interpreter")
        return
    # hallucinated_name / hallucinated_method
    if exists(dotted):
        bad(f"hallucinated {dotted!r} exists in this interpreter")
    parent = dotted.rsplit(".", 1)[0] if "." in dotted else ""
    if not parent:
        bad(f"hallucinated {dotted!r} has no parent to check against")
    elif not exists(parent):
        bad(f"parent {parent!r} of hallucinated {dotted!r} does not exist either")
    if kind == "hallucinated_method" and "." not in symbol:
        bad(f"hallucinated method {symbol!r} should be written as receiver.method")


def main() -> int:
    """Run every check, print the counts, and return the exit status."""
    problems: list[str] = []
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(ANSWERS.glob("*.md"))}
    for stem, md in texts.items():
        words = len(md.split())
        if not 80 <= words <= 400:
            problems.append(f"answers/{stem}.md: {words} words (want 80-400)")

    labels: list[dict[str, Any]] = []
    line_of: dict[int, int] = {}
    for n, line in enumerate(LABELS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            problems.append(f"labels.jsonl:{n}: blank line")
            continue
        try:
            label = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"labels.jsonl:{n}: not JSON: {exc}")
            continue
        if not isinstance(label, dict):
            problems.append(f"labels.jsonl:{n}: not a JSON object")
            continue
        check_label(n, label, texts, problems)
        labels.append(label)
        line_of[id(label)] = n

    split_of: dict[str, set[str]] = defaultdict(set)
    seen: Counter[str] = Counter()
    for label in labels:
        split_of[str(label.get("answer"))].add(str(label.get("split")))
        seen[json.dumps([label.get("answer"), label.get("target"), label.get("param")])] += 1
    for answer, splits in sorted(split_of.items()):
        if len(splits) > 1:
            problems.append(f"{answer}: labels in more than one split {sorted(splits)}")
    for key, count in seen.items():
        if count > 1:
            problems.append(f"duplicate label {key} ({count} times)")
    for stem in texts:
        if stem not in split_of:
            problems.append(f"answers/{stem}.md has no labels")

    kinds = list(EXPECT_FOR_KIND)
    table: Counter[tuple[str, str]] = Counter(
        (str(lb.get("kind")), str(lb.get("split"))) for lb in labels
    )
    for split in ("dev", "test"):
        for kind in SPLIT_MUST_HAVE:
            if table[kind, split] == 0:
                problems.append(f"split {split} has no {kind} labels")

    answers_per_split = Counter(next(iter(s)) for s in split_of.values() if len(s) == 1)
    print(
        f"answers: {len(texts)} files; dev {answers_per_split['dev']}, "
        f"test {answers_per_split['test']}"
    )
    print(f"labels: {len(labels)}")
    print(f"{'kind':<22}{'dev':>6}{'test':>6}{'total':>7}")
    for kind in kinds:
        dev, test = table[kind, "dev"], table[kind, "test"]
        print(f"{kind:<22}{dev:>6}{test:>6}{dev + test:>7}")
    dev_total = sum(table[k, "dev"] for k in kinds)
    test_total = sum(table[k, "test"] for k in kinds)
    print(f"{'all':<22}{dev_total:>6}{test_total:>6}{dev_total + test_total:>7}")
    negative = sum(
        v for (k, _), v in table.items() if k in ("real_name", "real_param", "true_statement")
    )
    print(
        f"real/true (false-alarm probes): {negative}; hallucinated/false: {len(labels) - negative}"
    )

    here = ".".join(map(str, sys.version_info[:3]))
    for label in labels:
        try:
            applies = applies_here(label)
        except (ValueError, TypeError):
            continue  # a malformed evidence_since is already a problem
        if not applies:
            print(f"not applicable to Python {here}: labels.jsonl:{line_of[id(label)]} "
                  f"({label['answer']}): its evidence is not in this interpreter's docs "
                  f"(it is from {label['evidence_since']} on)")

    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
