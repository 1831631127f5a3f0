"""Calls on receivers the corpus cannot type: an invented method is caught, a library the
corpus does not cover is silence, never a contradiction."""

from __future__ import annotations

from pathlib import Path

import pytest

from docvouch.code_refs import RefContext, code_lines, learn_names, prose_refs
from docvouch.engine import Engine
from docvouch.ingest.builder import IngestOptions, ingest_folder
from docvouch.store import current_index


def contradicted(engine: Engine, answer: str) -> list[str]:
    """The reasons of the answer's contradicted claims."""
    return [c["reason"] for c in engine.verify(answer)["claims"] if c["verdict"] == "contradicted"]


def verdict_of(engine: Engine, text: str) -> tuple[str, str]:
    claim = engine.verify(text)["claims"][0]
    return claim["verdict"], claim["reason"]


@pytest.mark.parametrize("call", [
    "np.linspace(0, 1, 5)",  # a library's conventional alias, not imported
    "df.groupby(\"region\")",
    "torch.nn.Linear(4, 2)",  # a dotted path whose head the corpus lacks
    "boto3.session.Session()",
])
def test_a_library_outside_the_corpus_is_not_contradicted(engine: Engine, call: str) -> None:
    verdict, reason = verdict_of(engine, f"Then call `{call}` to get the values you need.")
    assert verdict != "contradicted", reason


def test_an_invented_method_on_an_untyped_receiver_is_still_caught(engine: Engine) -> None:
    verdict, reason = verdict_of(engine, "Check the line with `line.contains(\"x\")` first.")
    assert verdict == "contradicted"
    assert "contains" in reason


def test_a_corpus_without_classes_contradicts_no_method(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "widget.md").write_text(
        "# widget.spin(speed, *, clockwise=True)\n\nSpins the widget at `speed` turns a "
        "second, clockwise unless told otherwise.\n")
    home = tmp_path / "home"
    ingest_folder(home, docs, IngestOptions(name="handbook", jobs=1))
    engine = Engine.open(current_index(home, "handbook"))
    assert len(engine.symbols.methods) == 0
    verdict, reason = verdict_of(engine, "Spin the widget with `widget.spin(3)` for speed.")
    assert verdict != "contradicted", reason


@pytest.mark.parametrize("answer", [
    # an attribute set on instances, which no class documentation lists
    "```python\nimport subprocess\nr = subprocess.run([\"ls\"], capture_output=True, "
    "text=True)\nprint(r.stdout)\n```",
    "```python\nimport argparse\nparser = argparse.ArgumentParser()\nparser.add_argument("
    "\"--verbose\", action=\"store_true\")\nargs = parser.parse_args()\nprint(args.verbose)\n```",
    "```python\nimport unittest\n\nclass T(unittest.TestCase):\n    def setUp(self):\n"
    "        self.items = []\n```",
    # a receiver whose inferred type the docs do not have (hashlib's private _Hash)
    "```python\nimport hashlib\nh = hashlib.sha256()\nh.update(b\"x\")\nprint(h.hexdigest())\n```",
    # super(): the parent's members, whichever class that is
    "```python\nclass Base:\n    def __init__(self, name):\n        self.name = name\n\n"
    "class Child(Base):\n    def __init__(self, name):\n        super().__init__(name)\n```",
    # pytest's fixtures, and mocks, which take any keyword and grow any attribute
    "```python\ndef test_out(capsys):\n    print(\"hi\")\n    assert capsys.readouterr().out "
    "== \"hi\\n\"\n```",
    "```python\nfrom unittest.mock import Mock\nresp = Mock(status_code=200)\n"
    "client = Mock()\nclient.post.return_value = resp\n```",
    # a name the code binds holds what the code gives it, whatever the name suggests
    "```python\ndef show(dates):\n    for d in dates:\n        print(d.isoformat())\n```",
    # a parameter named like a module is the parameter
    "```python\ndef valid(email):\n    return email.endswith(\".com\")\n```",
    # ...even where another block imports the module of that name
    "```python\nfrom collections import deque\n\nqueue = deque([1])\nfirst = queue.popleft()\n"
    "queue.append(2)\n```\n\nBetween threads:\n\n```python\nimport queue\n\n"
    "tasks = queue.Queue()\n```",
    # built-ins whose docstrings give several forms take the keywords of each
    "Parse hex with `int(\"ff\", base=16)`, which gives 255.",
    "Put the settings in a file called logging.ini next to the script.",
])
def test_correct_code_is_not_contradicted(engine: Engine, answer: str) -> None:
    assert contradicted(engine, answer) == []


@pytest.mark.parametrize(("answer", "needle"), [
    ("Check membership with `d.has_key(\"a\")` as in old code.", "has_key"),  # unbound name
    ("Convert it with `int(\"ff\", bse=16)` first.", "bse"),
    ("```python\nimport sqlite3\nconn = sqlite3.connect(\"app.db\")\ncur = conn.cursor()\n"
     "rows = cur.fetch_all()\n```", "fetch_all"),  # a method call on an inferred type
    ("```python\nimport re\nm = re.match(r\"a\", \"abc\")\nprint(m.captures())\n```",
     "captures"),
])
def test_invented_methods_on_inferred_types_are_still_caught(engine: Engine, answer: str,
                                                              needle: str) -> None:
    reasons = contradicted(engine, answer)
    assert any(needle in reason for reason in reasons), reasons


@pytest.mark.parametrize("answer", [
    "```python\nimport argparse\nparser = argparse.ArgumentParser()\n"
    "parser.add_argument(\"--n\", type=int, default=1, help=\"how many\")\n```",
    "```python\nimport logging\nlog = logging.getLogger(__name__)\n"
    "log.info(\"saved\", extra={\"user\": \"ann\"})\nlog.error(\"failed\", stack_info=True)\n```",
    "```python\nimport subprocess\n"
    "subprocess.check_call([\"make\"], cwd=\"build\", timeout=60)\n```",
])
def test_keywords_a_call_passes_on_are_accepted(engine: Engine, answer: str) -> None:
    assert contradicted(engine, answer) == []


@pytest.mark.parametrize(("answer", "keyword"), [
    ("```python\nimport logging\nlog = logging.getLogger(__name__)\n"
     "log.error(\"failed\", traceback=True)\n```", "traceback"),
    ("```python\nimport argparse\nparser = argparse.ArgumentParser()\n"
     "parser.add_argument(\"--n\", default_value=1)\n```", "default_value"),
])
def test_keywords_nothing_accepts_are_caught(engine: Engine, answer: str, keyword: str) -> None:
    reasons = contradicted(engine, answer)
    assert any(keyword in reason for reason in reasons), reasons


def test_a_reference_through_a_variable_the_code_binds_is_marked_local() -> None:
    code = "import json\n\ndef valid(email):\n    return email.endswith('.com')\n\n" \
           "json.loads('{}')\n"
    ctx = RefContext()
    learn_names([code], ctx)
    refs = {ref.written: ref for _, _, _, line_refs in code_lines(code, ctx) for ref in line_refs}
    assert refs["email.endswith"].local_head
    assert not refs["json.loads"].local_head
    # prose written without backticks reads the same context
    assert [ref.local_head for ref in prose_refs("Call email.endswith() on it.", ctx)] == [True]


def test_a_block_that_imports_a_name_another_block_binds_checks_the_module(
        engine: Engine) -> None:
    answer = ("```python\nfor time in [\"9:00\", \"10:00\"]:\n    print(time.upper())\n```\n\n"
              "Then:\n\n```python\nimport time\n\ntime.sleeep(1)\n```\n")
    assert [reason.split(":")[0] for reason in contradicted(engine, answer)] == [
        "`time.sleeep` is not documented"]
