"""Claim extraction: sentences, list items, table rows, code and commands, exact spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docvouch import claims, code_refs
from docvouch.claims import _versions, extract_claims

ANSWER = """Sure! Here's how you can do it.

You can check a folder with `os.path.isdir(p)`. It returns True for directories, e.g. `/tmp`.

- Sort descending with `sorted(xs, reverse=True)`.
- The `statistics.fmean` function was added in Python 3.8.

| Function | Purpose |
|---|---|
| `os.makedirs` | creates intermediate directories |

```python
import logging
from pathlib import Path
logging.basicConfig(level=logging.INFO)
p = Path("data")
for f in p.glob("*.csv"):
    print(f)
```

```bash
$ python -m json.tool data.json
$ git push --force-with-lease
```

Hope this helps!
"""


def claims_of(text: str):
    return extract_claims(text).claims


def test_every_claim_span_points_at_its_text() -> None:
    for claim in claims_of(ANSWER):
        start, end = claim.span
        assert " ".join(ANSWER[start:end].split()) == claim.text


def test_greetings_and_filler_are_not_claims() -> None:
    texts = [c.text for c in claims_of(ANSWER)]
    assert not any(t.startswith(("Sure", "Here's how", "Hope this")) for t in texts)


def test_sentences_list_items_and_rows_are_separate_claims() -> None:
    texts = [c.text for c in claims_of(ANSWER) if c.kind == "prose"]
    assert texts[:2] == ["You can check a folder with `os.path.isdir(p)`.",
                         "It returns True for directories, e.g. `/tmp`."]
    assert "Sort descending with `sorted(xs, reverse=True)`." in texts
    assert "| `os.makedirs` | creates intermediate directories |" in texts


def test_inline_code_is_attached_to_its_sentence() -> None:
    claim = next(c for c in claims_of(ANSWER) if "sorted" in c.text)
    assert [(s.name, s.keywords) for s in claim.symbols] == [("sorted", ["reverse"])]


def test_versions_are_extracted_from_prose() -> None:
    claim = next(c for c in claims_of(ANSWER) if "fmean" in c.text)
    assert claim.versions == ["3.8"]


@pytest.mark.parametrize(("text", "versions"), [
    ("It was added in Python 3.8 and changed in 3.11.", ["3.11", "3.8"]),
    ("Use v3.12 or later.", ["3.12"]),
    ("The lock is released within 3.5 seconds.", []),  # "in" inside a word is no cue
    ("Wait a min 2.5 seconds first.", []),
])
def test_a_version_needs_a_cue_word(text: str, versions: list[str]) -> None:
    assert _versions(text) == versions


def test_python_code_gives_calls_with_keywords_and_resolved_receivers() -> None:
    code = {c.text: c for c in claims_of(ANSWER) if c.kind == "code"}
    assert [s.name for s in code["from pathlib import Path"].symbols] == ["pathlib.Path"]
    basic = code["logging.basicConfig(level=logging.INFO)"]
    assert basic.symbols[0].name == "logging.basicConfig"
    assert basic.symbols[0].keywords == ["level"]
    glob = code['for f in p.glob("*.csv"):']
    assert glob.symbols[0].name == "pathlib.Path.glob"


def test_shell_lines_are_command_claims() -> None:
    commands = [c for c in claims_of(ANSWER) if c.kind == "command"]
    assert [c.text for c in commands] == ["python -m json.tool data.json",
                                          "git push --force-with-lease"]
    assert commands[0].symbols[0].name == "json.tool"
    assert commands[1].symbols[0].name == "git --force-with-lease"


def test_broken_python_falls_back_to_a_tolerant_scan() -> None:
    text = ("```python\nresult = os.path.isdirectory(p\n"
            "shutil.copy_tree(a, b, dirs_exist_ok=True)\n```\n")
    names = {s.name for c in claims_of(text) for s in c.symbols}
    assert {"os.path.isdirectory", "shutil.copy_tree"} <= names


def test_claims_are_capped_and_marked_truncated() -> None:
    text = " ".join(f"Sentence number {i} states a fact about lists." for i in range(500))
    result = extract_claims(text, max_claims=200)
    assert len(result.claims) == 200
    assert result.truncated


def test_a_single_huge_sentence_is_capped_in_length() -> None:
    text = "word " * 50_000
    result = extract_claims(text, max_claim_chars=1000)
    assert all(len(c.text) <= 1000 for c in result.claims)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_gives_valid_claims(text: str) -> None:
    result = extract_claims(text, max_claims=50)
    assert len(result.claims) <= 50
    for claim in result.claims:
        start, end = claim.span
        assert 0 <= start <= end <= len(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["`os.path.join(a, b)`", "```python\nimport os\n", "```",
                                 "- item", "| a | b |", "\n", "text.", " ", "$ git push",
                                 "**bold**", "> quote", "1. step"]), max_size=60))
def test_markdown_shaped_noise_never_breaks_extraction(parts: list[str]) -> None:
    text = "".join(parts)
    for claim in extract_claims(text).claims:
        assert 0 <= claim.span[0] <= claim.span[1] <= len(text)


def _bare_name_contexts() -> list[code_refs.RefContext]:
    """No context; import aliases; inferred variables; a local class with its own member."""
    return [
        code_refs.RefContext(),
        code_refs.RefContext(aliases={"osp": "os.path", "np": "numpy", "dt": "datetime"}),
        code_refs.RefContext(variables={"p": "pathlib.Path", "row": "dict"}),
        code_refs.RefContext(classes={"Handler": "logging.Handler"},
                             own_members={"Handler": {"emit"}}),
    ]


@settings(max_examples=300, deadline=None)
@given(name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_][A-Za-z0-9_]{0,6}){0,3}",
                          fullmatch=True),
       called=st.booleans())
def test_bare_name_shortcut_agrees_with_the_syntax_tree(name: str, called: bool) -> None:
    # inline_refs skips ast.parse for `a.b.c` and `a.b()`; the tree must say the same
    code = name + "()" * called
    for ctx in _bare_name_contexts():
        assert code_refs.inline_refs(code, ctx) == code_refs.parsed_inline_refs(code, ctx)


@settings(max_examples=300, deadline=None)
@given(code=st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8} ?= ?(\"[^\"\\\\\n]{0,12}\"|'[^'\\\\\n]{0,12}'"
                  r"|-?[0-9]{1,4}(\.[0-9]{1,3})?|True|False|None)", fullmatch=True),
    st.from_regex(r"\.[A-Za-z][A-Za-z0-9_.()]{0,10}", fullmatch=True)))
def test_keyword_literal_and_leading_dot_shortcuts_agree_with_the_parser(code: str) -> None:
    # inline_refs answers `name="literal"` and `.suffix` spans without ast.parse
    for ctx in _bare_name_contexts():
        assert code_refs.inline_refs(code, ctx) == code_refs.parsed_inline_refs(code, ctx)


def test_bare_name_shortcut_on_documented_names_and_keywords(engine) -> None:
    names = [s.name for s in engine.index.symbols[::7]]
    names += ["None", "True", "print", "len()", "osp.isdir", "p.read_text", "row.get()",
              "Handler.emit", "Handler.format()", "x.class", "lambda", "match", "_"]
    for code in names + [n + "()" for n in names[:2000]]:
        for ctx in _bare_name_contexts():
            assert code_refs.inline_refs(code, ctx) == code_refs.parsed_inline_refs(code, ctx), code


_PIECES = ["`", "``", "x", " ", ".", "e.g.", "I.E.", "etc.", "vs.", "No.", "Dr. ", "ſ", "\n",
           "- ", "a_b", "*"]


def _masked_by_the_general_patterns(block: str) -> str:
    """What claims._masked_block computes, with only the general regexes (no shortcuts)."""
    out = []
    for line in block.splitlines(keepends=True):
        prefix = claims._LINE_PREFIX_RE.match(line)
        cut = prefix.end() if prefix else 0
        out.append(" " * cut + line[cut:])
    masked = claims._INLINE_CODE_RE.sub(lambda m: "`" + "x" * (len(m.group(0)) - 1),
                                        "".join(out))
    return claims._ABBREVIATIONS_RE.sub(lambda m: m.group(0)[:-1] + " ", masked)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.sampled_from(_PIECES), max_size=30))
def test_inline_code_and_abbreviation_shortcuts_agree_with_the_general_patterns(
        parts: list[str]) -> None:
    text = "".join(parts)
    assert claims._masked_block(text, 0, len(text)) == _masked_by_the_general_patterns(text)
    spans = [m.group(0, 1, 2) for m in claims._inline_code(text).finditer(text)]
    assert spans == [m.group(0, 1, 2) for m in claims._INLINE_CODE_RE.finditer(text)]
