"""The symbol table: is a name documented, does it take that keyword, what was meant?

Look-up rules, in order:

* exact hit → ``found`` (then keyword arguments are checked against the signature,
  including the keywords the docs list for a ``**kwargs`` signature);
* unknown name whose parent namespace is documented (``os.path.isdirectory``,
  ``str.contains`` for a variable known to hold a ``str``) → ``unknown``, with the closest
  documented names as suggestions (rapidfuzz within the namespace, then the whole table);
* a head the corpus knows nothing about (``np.zeros``, a local variable) → ``unverified``:
  silence is not a contradiction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from docvouch.code_refs import SymbolRef
from docvouch.passages import Symbol

NAMESPACE_KINDS = frozenset({"module", "class", "exception"})
NAMESPACE_CUTOFF = 60.0  # ratio (0-100) for a suggestion among a namespace's members
GLOBAL_CUTOFF = 82.0  # stricter across the whole table: only near-identical spellings
KEYWORD_CUTOFF = 55.0
# Names other languages use for what Python spells differently; tried before fuzzy matching.
IDIOMS = {"push": "append", "add": "append", "contains": "__contains__",
          "includes": "__contains__", "has_key": "__contains__", "length": "__len__",
          "size": "__len__", "trim": "strip", "to_upper": "upper", "to_lower": "lower",
          "uppercase": "upper", "lowercase": "lower", "substring": "__getitem__"}
OPERATOR_SPELLING = {"__contains__": "the `in` operator", "__len__": "len()",
                     "__getitem__": "slicing"}
# Heads that name a third-party library (or its conventional alias) even when an answer
# does not import it: `np.linspace()` is numpy's, not an invented method of some class.
THIRD_PARTY_HEADS = frozenset({
    "np", "numpy", "pd", "pandas", "df", "plt", "matplotlib", "sns", "seaborn", "scipy",
    "sp", "sklearn", "tf", "tensorflow", "keras", "torch", "nn", "jax", "jnp", "cv2",
    "requests", "httpx", "django", "flask", "fastapi", "pydantic", "sqlalchemy", "boto3",
    "pytest", "yaml", "bs4", "lxml", "polars", "pl", "openai", "transformers", "st",
    # pytest's fixtures, and the response objects of HTTP client libraries
    "capsys", "capfd", "caplog", "monkeypatch", "mocker", "tmp_path", "tmpdir", "resp",
    "response",
})
# Classes whose instances take any keyword and grow any attribute: nothing about a call or
# member of theirs can be contradicted.
DYNAMIC_CLASSES = frozenset({
    "unittest.mock.Mock", "unittest.mock.MagicMock", "unittest.mock.AsyncMock",
    "unittest.mock.NonCallableMock", "unittest.mock.NonCallableMagicMock",
    "types.SimpleNamespace", "argparse.Namespace",
})


@dataclass(slots=True)
class SymbolCheck:
    """The outcome of checking one reference against the table."""

    ref: SymbolRef
    status: str  # found | unknown | invalid_keyword | deprecated | removed | unverified
    symbol: Symbol | None = None
    suggestion: str | None = None
    keyword: str | None = None
    reason: str = ""
    suggested: Symbol | None = None  # the documented symbol the suggestion names

    @property
    def evidence_symbol(self) -> Symbol | None:
        """The documented symbol whose passage is the best evidence for this check."""
        return self.suggested or self.symbol

    @property
    def contradicts(self) -> bool:
        return self.status in ("unknown", "invalid_keyword", "removed", "deprecated")

    def to_json(self) -> dict:
        out: dict = {"name": self.ref.written, "status": self.status}
        if self.ref.written != self.ref.name:
            out["resolved"] = self.ref.name  # through the answer's imports or inferred type
        if self.keyword:
            out["keyword"] = self.keyword
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


class SymbolTable:
    """Every documented name, indexed for exact, namespace and fuzzy look-up."""

    def __init__(self, symbols: Sequence[Symbol]) -> None:
        self.by_name: dict[str, Symbol] = {}
        for symbol in symbols:
            self.by_name.setdefault(symbol.name, symbol)
        self.children: dict[str, list[str]] = defaultdict(list)
        # method name -> classes documenting it, for calls on receivers of unknown type
        self.methods: dict[str, list[str]] = defaultdict(list)
        self.by_short: dict[str, list[str]] = defaultdict(list)
        for name in self.by_name:
            parent, _, short = name.rpartition(".")
            if parent:
                self.children[parent].append(short)
                if self.by_name[name].kind == "method":
                    self.methods[short].append(parent)
            self.by_short[short].append(name)
        self._families: dict[str, list[str]] = defaultdict(list)
        for name in self.by_name:
            self._families[name.split(".", 1)[0]].append(name)

    def __len__(self) -> int:
        return len(self.by_name)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def check_method_anywhere(self, ref: SymbolRef) -> SymbolCheck | None:
        """``x.contains()`` with ``x`` of unknown type: does any documented class have it?

        Only for answers that stay inside the corpus (the caller checks the imports): with a
        third-party import, ``df.groupby()`` is silence, not a contradiction. So are a
        well-known library's names without an import (``np.linspace()``), calls down a
        dotted path whose head the corpus lacks, and any call when the corpus documents no
        methods at all.
        """
        receiver, _, method = ref.name.rpartition(".")
        head = ref.written.split(".", 1)[0]
        if ref.kind != "call" or not receiver or receiver in self.by_name or not self.methods:
            return None  # not self.methods: a corpus of prose pages documents no classes
        if head in THIRD_PARTY_HEADS or ("." in receiver and head not in self._families):
            return None  # `torch.nn.Linear()`: a module path of a library the corpus lacks
        if not head.isidentifier() or not head[:1].islower() or method.startswith("_"):
            return None
        if method in self.methods:
            return None
        best = process.extractOne(method, list(self.methods), scorer=fuzz.ratio,
                                  processor=utils.default_process, score_cutoff=80.0)
        suggestion = None
        if best is not None:
            owners = self.methods[best[0]]
            suggestion = f"{owners[0]}.{best[0]}" if len(owners) == 1 else best[0]
        hint = f"; did you mean {_quoted(suggestion)}?" if suggestion else ""
        return SymbolCheck(
            ref, "unknown", suggestion=suggestion,
            suggested=self.by_name.get(suggestion) if suggestion else None,
            reason=f"no documented class has a method `{method}`{hint}",
        )

    def check(self, ref: SymbolRef) -> SymbolCheck:
        """Check one reference: existence, then keywords, then version notes."""
        symbol = self.by_name.get(ref.name)
        if symbol is None and ref.kind == "mention":
            symbol = self._unique_short(ref.name)
        if symbol is None and ref.written != ref.name:
            # prose says `datetime.UTC` (the module) even when the code imported the class
            symbol = self.by_name.get(ref.written)
        if symbol is None and ref.local_head:
            head = ref.written.partition(".")[0]
            return SymbolCheck(ref, "unverified",
                               reason=f"`{head}` is a variable of the answer's code here")
        if symbol is None:
            return self._missing(ref)
        if symbol.name in DYNAMIC_CLASSES:
            return SymbolCheck(ref, "found", symbol, reason=f"`{symbol.name}` is documented")
        bad = self._bad_keyword(symbol, ref.keywords)
        if bad is not None:
            keyword, suggestion = bad
            hint = f"; did you mean {_quoted(suggestion)}?" if suggestion else ""
            return SymbolCheck(
                ref, "invalid_keyword", symbol, suggestion=suggestion, keyword=keyword,
                reason=f"`{symbol.name}{symbol.signature}` takes no keyword `{keyword}`{hint}",
            )
        for note in symbol.version_notes:
            if note.kind in ("removed", "deprecated"):
                verb = "removed in" if note.kind == "removed" else "deprecated since"
                return SymbolCheck(ref, note.kind, symbol,
                                   reason=f"`{symbol.name}` is {verb} version {note.version}")
        return SymbolCheck(ref, "found", symbol, reason=f"`{symbol.name}` is documented")

    def _unique_short(self, short: str) -> Symbol | None:
        names = self.by_short.get(short, ())
        return self.by_name[names[0]] if len(names) == 1 else None

    def _missing(self, ref: SymbolRef) -> SymbolCheck:
        parts = ref.name.split(".")
        # The deepest documented prefix decides: a documented namespace that lacks the next
        # part contradicts; an undocumented head (third-party, a variable) is silence.
        for depth in range(len(parts) - 1, 0, -1):
            parent = ".".join(parts[:depth])
            known = self.by_name.get(parent)
            if known is None:
                continue
            if known.returns and known.returns in self.by_name and "." in ref.written:
                # `cur = conn.cursor(); cur.fetch_all()`: look in the documented result class
                rest = ".".join(parts[depth:])
                follow = SymbolRef(f"{known.returns}.{rest}", ref.written, ref.kind,
                                   ref.keywords, receiver_typed=True)
                return self.check(follow) if follow.name != ref.name else \
                    SymbolCheck(ref, "unverified", reason=f"`{ref.name}` is not documented")
            if ref.receiver_typed and known.kind == "module" and depth == len(parts) - 1:
                # an instance is never a module: the type we inferred is wrong (`from
                # xml.etree import ElementTree; root = ElementTree.fromstring(...)`)
                return SymbolCheck(ref, "unverified",
                                   reason=f"the type of `{ref.written.split('.', 1)[0]}` "
                                          "is not known")
            if known.kind not in NAMESPACE_KINDS or parent in DYNAMIC_CLASSES:
                return SymbolCheck(ref, "unverified",
                                   reason=f"members of `{parent}` are not documented")
            if ref.receiver_typed and depth < len(parts) - 1:
                # the type we inferred for the receiver (`hashlib._Hash`) is not documented
                # itself: what it holds cannot be judged
                return SymbolCheck(ref, "unverified",
                                   reason=f"`{'.'.join(parts[:-1])}` is not documented")
            if ref.receiver_typed and ref.kind != "call" and depth == len(parts) - 1:
                # `r.stdout`, `args.verbose`, `self.items`: instances carry attributes that
                # their class's documentation never lists (set in __init__, or by a parser)
                return SymbolCheck(ref, "unverified",
                                   reason=f"`{parts[-1]}` may be an attribute of `{parent}` "
                                          "instances, which the docs do not list")
            member = parts[depth]
            if member.startswith("_"):
                # the table leaves out underscore names, some public all the same (os._exit,
                # sys._getframe): their absence says nothing
                return SymbolCheck(ref, "unverified",
                                   reason=f"`{ref.name}`: names starting with _ are not indexed")
            suggestion = self.suggest(parent, member)
            shown = f"{parent}.{member}"
            hint = f"; did you mean {_quoted(suggestion)}?" if suggestion else ""
            return SymbolCheck(
                ref, "unknown", suggestion=suggestion,
                suggested=self.by_name.get(suggestion) if suggestion else None,
                reason=f"`{shown}` is not documented: {known.kind} `{parent}` has no "
                       f"`{member}`{hint}",
            )
        return SymbolCheck(ref, "unverified",
                           reason=f"`{ref.name}` is outside the corpus")

    def suggest(self, parent: str, member: str) -> str | None:
        """The closest documented member of ``parent``, else the closest name anywhere."""
        siblings = self.children.get(parent, ())
        idiom = IDIOMS.get(member)
        if idiom in OPERATOR_SPELLING and self.by_name.get(parent, None) is not None \
                and self.by_name[parent].kind == "class":
            return OPERATOR_SPELLING[idiom]
        if idiom and idiom in siblings:
            return f"{parent}.{idiom}"
        best = process.extractOne(member, siblings, scorer=fuzz.ratio,
                                  processor=utils.default_process,
                                  score_cutoff=NAMESPACE_CUTOFF)
        if best is not None:
            return f"{parent}.{best[0]}"
        # Across the table, but within the same top-level package: a misspelt submodule
        # (os.pathx.join) is caught, and 40k names are not scanned for every miss.
        family = self._families.get(parent.split(".", 1)[0], ())
        best = process.extractOne(f"{parent}.{member}", family, scorer=fuzz.ratio,
                                  processor=utils.default_process, score_cutoff=GLOBAL_CUTOFF)
        return best[0] if best is not None else None

    def _bad_keyword(self, symbol: Symbol, keywords: Sequence[str]
                     ) -> tuple[str, str | None] | None:
        if symbol.params is None:
            return None  # signature unknown: nothing to check against
        accepted = set(symbol.params)
        if symbol.var_keyword:
            if not symbol.documented_keywords:
                return None  # **kwargs with no documented names: anything may be valid
            accepted |= set(symbol.documented_keywords)
        for keyword in keywords:
            if keyword not in accepted:
                best = process.extractOne(keyword, sorted(accepted), scorer=fuzz.ratio,
                                          score_cutoff=KEYWORD_CUTOFF)
                return keyword, (best[0] if best else None)
        return None


def _quoted(name: str) -> str:
    return name if "`" in name else f"`{name}`"
