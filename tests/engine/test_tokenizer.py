from __future__ import annotations

from docvouch.tokenizer import tokenize


def test_dotted_names_are_kept_whole_and_split_into_parts() -> None:
    assert tokenize("os.path.join")[:4] == ["os.path.join", "os", "path", "join"]


def test_snake_case_keeps_the_keyword_and_its_parts() -> None:
    terms = tokenize("exist_ok")
    assert terms[0] == "exist_ok"
    assert "exist" in terms and "ok" in terms


def test_cli_flags_are_kept_whole() -> None:
    terms = tokenize("git push --force-with-lease")
    assert "--force-with-lease" in terms
    assert "forc" in terms  # the parts are stemmed like prose


def test_camel_case_is_split() -> None:
    assert tokenize("getElementById")[:4] == ["getelementbyid", "get", "element", "id"]


def test_prose_is_stemmed_and_stop_words_dropped() -> None:
    assert tokenize("It creates the intermediate directories") == [
        "creat", "intermedi", "directori"]


def test_versions_and_numbers_survive() -> None:
    assert tokenize("added in Python 3.11 with 42 options") == [
        "add", "python", "3.11", "42", "option"]


def test_whole_code_tokens_are_not_stemmed() -> None:
    assert tokenize("os.path.isdirs")[0] == "os.path.isdirs"
    assert tokenize("os.path.isdir")[0] != tokenize("os.path.isdirs")[0]
