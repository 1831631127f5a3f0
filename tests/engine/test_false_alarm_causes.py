"""Correct statements that used to be contradicted, one cause each, beside the wrong statement
of the same shape that must still be caught (bench/correct_answers/README.md lists them)."""

from __future__ import annotations

import hashlib
import types

import pytest

from docvouch.engine import Engine
from docvouch.ingest.python_api import ApiWalker, _signature_from_doc


def verdicts(engine: Engine, answer: str) -> list[tuple[str, str, str]]:
    return [(c["verdict"], c["text"], c["reason"]) for c in engine.verify(answer)["claims"]]


def contradicted(engine: Engine, answer: str) -> list[tuple[str, str]]:
    return [(text, reason) for verdict, text, reason in verdicts(engine, answer)
            if verdict == "contradicted"]


def reasons(engine: Engine, answer: str) -> list[str]:
    """Why each contradicted claim of the answer is contradicted."""
    return [reason for _, reason in contradicted(engine, answer)]


@pytest.mark.parametrize("answer", [
    "```python\nimport json\nfrom datetime import datetime\n\n"
    "print(json.dumps({\"when\": datetime.now()}, default=str))\n```\n",
    "```python\nnew_id = max(todos, default=0) + 1\n```\n",
    "`max(todos, default=0)` returns 0 when the list is empty instead of raising "
    "`ValueError`.",
])
def test_a_keyword_named_default_is_usage_not_a_claim_about_defaults(
        engine: Engine, answer: str) -> None:
    assert contradicted(engine, answer) == []


def test_a_placeholder_default_is_not_compared(engine: Engine) -> None:
    # max(iterable, *[, default=obj, key=func]): "obj" names no value
    answer = "If you leave `default` out, `max()` raises on an empty iterable; it defaults " \
             "to None only in your own wrapper."
    assert contradicted(engine, answer) == []


def test_a_default_given_as_a_formula_is_not_read_as_its_numbers(engine: Engine) -> None:
    formula = ("For `concurrent.futures.ThreadPoolExecutor`, `max_workers` defaults to "
               "min(32, os.cpu_count() + 4).")
    assert contradicted(engine, formula) == []
    wrong = "For `concurrent.futures.ThreadPoolExecutor`, `max_workers` defaults to 8."
    assert reasons(engine, wrong) == [
        "the documented default of `max_workers` is None, the claim says 8.0"]


def test_a_wrong_default_is_still_caught(engine: Engine) -> None:
    wrong = "By default `math.isclose()` uses a relative tolerance `rel_tol` of 1e-05."
    assert len(contradicted(engine, wrong)) == 1


def test_a_version_any_note_on_the_page_gives_is_not_contradicted(engine: Engine) -> None:
    # the page's notes: changed 3.7 (insertion order), changed 3.8 (reversible), new 3.10
    # (the views' `mapping`): "since" matches a note of another kind
    answer = ("Since Python 3.7, dictionaries preserve insertion order as part of the "
              "language specification. Since Python 3.8, dictionaries and their views are "
              "reversible with `reversed()`.")
    assert contradicted(engine, answer) == []


def test_a_version_no_note_on_the_page_gives_is_still_caught(engine: Engine) -> None:
    wrong = "The `match` statement was added in Python 3.8 for structural pattern matching."
    assert reasons(engine, wrong) == [
        "the docs say added in version 3.10, the claim says 3.8"]


def test_a_note_about_another_feature_does_not_date_the_claim(engine: Engine) -> None:
    # the page's only "added" note is "The 'rb' prefix of raw bytes literals has been added"
    # (3.3): wrong as the claim is, that note is no reason to call it so
    answer = "Formatted string literals (f-strings) were added in Python 3.8."
    assert contradicted(engine, answer) == []  # the corpus has no note that dates f-strings


def test_a_note_that_names_what_the_claim_says_dates_it(engine: Engine) -> None:
    # "Changed in version 3.7: Dictionary order is guaranteed to be insertion order."
    wrong = "Since Python 3.6, dictionaries are guaranteed to preserve insertion order."
    assert reasons(engine, wrong) == [
        "the docs say changed in version 3.7, the claim says 3.6"]
    right = "Since Python 3.7, dictionaries are guaranteed to preserve insertion order."
    assert contradicted(engine, right) == []


def test_a_module_named_like_a_class_is_not_the_type_of_its_factories(engine: Engine) -> None:
    answer = ("```python\nimport xml.etree.ElementTree as ET\n\n"
              "root = ET.fromstring(\"<items><item id='1'>Pen</item></items>\")\n"
              "for item in root.iter(\"item\"):\n    print(item.get(\"id\"), item.text)\n```\n")
    assert contradicted(engine, answer) == []
    # a class's own from-constructor still types its result
    wrong = ("```python\nfrom decimal import Decimal\n\n"
             "d = Decimal.from_float(0.5)\nprint(d.round_to(2))\n```\n")
    assert [text for text, _ in contradicted(engine, wrong)] == ["print(d.round_to(2))"]


def test_a_decorated_function_keeps_what_its_decorator_adds(engine: Engine) -> None:
    answer = ("```python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\n"
              "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n"
              "print(fib.cache_info())\nfib.cache_clear()\n```\n")
    assert contradicted(engine, answer) == []


def test_a_builtin_with_a_keywords_form_takes_any_keyword(engine: Engine) -> None:
    assert _signature_from_doc(dict) == ("()", None, True)
    answer = "```python\nuser = dict(name=\"Ada\", role=\"admin\", active=True)\n```\n"
    assert contradicted(engine, answer) == []
    wrong = "```python\nprint(sorted(words, reversed=True))\n```\n"
    assert len(contradicted(engine, wrong)) == 1


def test_continuation_lines_do_not_end_a_docstrings_forms() -> None:
    def tally() -> None: ...
    tally.__doc__ = ("tally() -> new empty tally\ntally(counts) -> a tally of the counts\n"
                     "    given, one line per key\ntally(iterable, start) -> the same")
    # inspect.signature would read the def; the docstring path is the builtins' one
    assert _signature_from_doc(tally) == ("()", ["counts", "iterable", "start"], False)


def test_names_a_module_takes_from_its_accelerator_are_documented() -> None:
    module = types.ModuleType("tally")
    module.__all__ = ["count"]

    def count() -> int:
        return 0

    def fast_sum() -> int:
        """Sum quickly (only when the C library has it)."""
        return 0

    def helper() -> int:
        return 0

    count.__module__ = "tally"
    fast_sum.__module__ = "_tally"  # what `from _tally import fast_sum` leaves
    helper.__module__ = "elsewhere"
    module.count, module.fast_sum, module.helper = count, fast_sum, helper
    assert ApiWalker._unlisted_exports(module) == ["fast_sum"]


def test_hashlib_scrypt_is_documented_where_the_interpreter_has_it(engine: Engine) -> None:
    # present when the interpreter's OpenSSL has scrypt (Debian's does); absent, it is wrong
    answer = "For passwords, use `hashlib.scrypt()` with a random salt."
    assert (contradicted(engine, answer) == []) == hasattr(hashlib, "scrypt")


def test_a_number_with_thousands_separators_is_one_value(engine: Engine) -> None:
    stem = "The `max_denominator` of `Fraction.limit_denominator()` defaults to "
    assert contradicted(engine, stem + "1,000,000.") == []
    assert reasons(engine, stem + "1,000.") == [
        "the documented default of `max_denominator` is 1000000, the claim says 1000.0"]


def test_the_parameter_nearest_the_word_default_is_the_one_compared(engine: Engine) -> None:
    stem = "`statistics.quantiles()` cuts the data into `n` groups, and its default method is "
    assert contradicted(engine, stem + '"exclusive".') == []
    assert reasons(engine, stem + '"inclusive".') == [
        "the documented default of `method` is 'exclusive', the claim says 'inclusive'"]


def test_an_undocumented_callable_is_not_judged_by_another_ones_signature(
        engine: Engine) -> None:
    # retrieval finds cmath.isclose(a, b, *, rel_tol=1e-09, ...) for these words
    answer = "`pytest.approx()` uses a relative tolerance `rel_tol` of 1e-6 by default."
    assert contradicted(engine, answer) == []


def test_a_retrieved_signature_of_a_module_the_answer_does_not_use_is_not_compared(
        engine: Engine) -> None:
    answer = ("```python\nimport tarfile\n\nwith tarfile.open(\"backup.tar.gz\") as tar:\n"
              "    tar.extractall(\"out\")\n```\n\nWhen reading, the default mode \"r\" "
              "detects the compression by itself.\n")
    assert contradicted(engine, answer) == []  # gzip.open and bz2.open have mode='rb'
    wrong = ("```python\nimport gzip\n\nwith gzip.open(\"log.gz\", \"wt\") as f:\n"
             "    f.write(\"done\")\n```\n\nIf you don't pass a level, the default "
             "compresslevel is 6.\n")
    assert reasons(engine, wrong) == [
        "the documented default of `compresslevel` is 9, the claim says 6.0"]


@pytest.mark.parametrize("answer", [
    "In `collections.namedtuple()`, `rename` defaults to False.",  # not the `defaults` param
    "The `style` argument of `logging.Formatter` defaults to '%'.",
    "The default value of `sort_keys` in `json.dumps()` is False.",  # not `default`
    "`open()` opens in text mode by default, and `buffering` is -1.",  # not "mode"
    "`random.seed()` uses a default `version` of 2.",  # not the one-letter `a`
])
def test_the_word_default_and_plain_words_do_not_pick_the_parameter(
        engine: Engine, answer: str) -> None:
    assert contradicted(engine, answer) == []


def test_a_wrong_default_is_compared_with_the_parameter_named(engine: Engine) -> None:
    wrong = "In `collections.namedtuple()`, `rename` defaults to True."
    assert reasons(engine, wrong) == [
        "the documented default of `rename` is False, the claim says True"]


def test_an_empty_string_default_is_a_value(engine: Engine) -> None:
    wrong = "In `urllib.parse.urlsplit()`, `scheme` defaults to 'http'."
    assert reasons(engine, wrong) == [
        "the documented default of `scheme` is '', the claim says 'http'"]
    assert contradicted(engine, "In `urllib.parse.urlsplit()`, `scheme` defaults to `''`.") == []


def test_a_bare_note_on_a_related_passage_still_dates_the_claim(engine: Engine) -> None:
    # "Mapping Types — dict" notes "New in version 3.9." under `d | other`
    stem = "The dict merge operator `d | other` was added in Python "
    assert reasons(engine, stem + "3.8.") == [
        "the docs say added in version 3.9, the claim says 3.8"]
    assert contradicted(engine, stem + "3.9.") == []


def test_a_decorated_function_named_like_an_import_does_not_hide_its_calls(
        engine: Engine) -> None:
    answer = ("```python\nimport json\n\n@property\ndef json(self):\n"
              "    return json.loadz(self.text)\n```\n")
    assert [text for text, _ in contradicted(engine, answer)] == ["return json.loadz(self.text)"]


def test_a_module_imported_from_its_package_is_not_an_instance_type(engine: Engine) -> None:
    answer = ("```python\nfrom xml.etree import ElementTree\n\n"
              "root = ElementTree.fromstring(\"<a><b/></a>\")\nprint(root.findall(\"b\"))\n```\n")
    assert contradicted(engine, answer) == []


@pytest.mark.parametrize("answer", [
    "In the forked child, call `os._exit(1)` so no cleanup handlers run.",
    "`sys._getframe()` returns the caller's frame object.",
])
def test_a_public_underscore_name_is_not_called_missing(engine: Engine, answer: str) -> None:
    assert contradicted(engine, answer) == []


def test_a_name_of_a_later_release_than_the_docs_is_not_called_missing(engine: Engine) -> None:
    answer = "Python 3.11 lacks `itertools.batched()`, which arrived in 3.12."
    assert contradicted(engine, answer) == []
    # without a later version in the claim, the 3.11 docs decide
    wrong = "Cut the list into chunks with `itertools.batched()`."
    assert [reason.split(":")[0] for _, reason in contradicted(engine, wrong)] == [
        "`itertools.batched` is not documented"]


def test_a_class_the_symbol_table_cannot_place_is_not_judged_by_another_signature(
        engine: Engine) -> None:
    # `FileHandler` is logging's or urllib.request's; the builtin open() has mode='r'
    right = 'A `FileHandler` writes in append mode: its `mode` defaults to `"a"`.'
    assert contradicted(engine, right) == []
    wrong = 'A `FileHandler` writes in append mode: its `mode` defaults to `"w"`.'
    assert reasons(engine, wrong) == [
        "the documented default of `mode` is 'a', the claim says 'w'"]


def test_the_answers_own_class_does_not_hide_the_signature_it_is_built_with(
        engine: Engine) -> None:
    wrong = ("```python\nfrom dataclasses import dataclass\n\n@dataclass\nclass Point:\n"
             "    x: int\n```\n\nWith `@dataclass`, `frozen` defaults to True, so `Point` "
             "instances are immutable.\n")
    assert reasons(engine, wrong) == [
        "the documented default of `frozen` is False, the claim says True"]


def test_with_closing_binds_the_object_it_wraps(engine: Engine) -> None:
    answer = ("```python\nimport sqlite3\nfrom contextlib import closing\n\n"
              "with closing(sqlite3.connect(\"stock.db\")) as db:\n"
              "    db.execute(\"DELETE FROM items\")\n    db.commit()\n```\n")
    assert contradicted(engine, answer) == []
    wrong = answer.replace("db.commit()", "db.save()")
    assert [reason.split(";")[0] for reason in reasons(engine, wrong)] == [
        "`sqlite3.Connection.save` is not documented: class `sqlite3.Connection` has no `save`"]
