"""Symbol look-up on the real default corpus: the cases the engine issue names."""

from __future__ import annotations

import pytest

from docvouch.code_refs import SymbolRef


def check(engine, name: str, *keywords: str, typed: bool = False):
    return engine.symbols.check(SymbolRef(name, name, "call", list(keywords), typed))


@pytest.mark.parametrize(("name", "suggestion"), [
    ("os.path.isdirectory", "os.path.isdir"),
    ("queue.PriorityDeque", "queue.PriorityQueue"),
    ("shutil.copy_tree", "shutil.copytree"),
])
def test_unknown_symbol_with_close_match_is_contradicted_with_suggestion(
        engine, name: str, suggestion: str) -> None:
    result = check(engine, name)
    assert result.status == "unknown"
    assert result.contradicts
    assert result.suggestion == suggestion


def test_unknown_member_of_documented_module_without_close_match_is_contradicted(engine) -> None:
    result = check(engine, "pickle.serialize")
    assert result.status == "unknown"
    assert "pickle" in result.reason


def test_method_on_inferred_str_receiver_is_checked_against_str(engine) -> None:
    result = check(engine, "str.contains", typed=True)
    assert result.status == "unknown"
    assert result.suggestion == "the `in` operator"


def test_invented_keyword_is_contradicted_with_the_real_one(engine) -> None:
    result = check(engine, "sorted", "reversed")
    assert (result.status, result.keyword, result.suggestion) == (
        "invalid_keyword", "reversed", "reverse")


def test_keywords_documented_for_kwargs_signature_are_checked(engine) -> None:
    assert check(engine, "logging.basicConfig", "level", "format").status == "found"
    bad = check(engine, "logging.basicConfig", "log_level")
    assert bad.status == "invalid_keyword"
    assert bad.suggestion == "level"


def test_forwarded_keywords_are_accepted(engine) -> None:
    # subprocess.run(**kwargs) forwards to Popen, whose parameters are documented
    assert check(engine, "subprocess.run", "shell", "cwd", "capture_output").status == "found"


def test_real_names_are_found(engine) -> None:
    for name in ("os.path.isdir", "os.makedirs", "json.dumps", "pathlib.Path.glob", "sorted",
                 "collections.OrderedDict.move_to_end", "sys.stdout", "str.startswith",
                 # imported from the package's own submodule, missing from 3.11.2's __all__
                 "asyncio.TaskGroup"):
        assert check(engine, name).status == "found", name


def test_names_outside_the_corpus_are_unverified_not_contradicted(engine) -> None:
    for name in ("np.zeros", "requests.get", "df.groupby"):
        assert check(engine, name).status == "unverified", name
