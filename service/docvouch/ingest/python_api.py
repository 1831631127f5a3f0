"""Python API documentation by introspection: modules → passages and symbols.

Imports modules, walks their public classes, functions, methods, attributes and constants,
and turns each documented object into one passage (signature + docstring) and one symbol
(with the parameters it accepts as keywords). Used for the default corpus (the running
interpreter's standard library, see ``stdlib.py``) and for installed packages.

Importing arbitrary modules has side effects, so callers run this in a child process
(``python -m docvouch.ingest.stdlib``) and read the records it writes.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import pkgutil
import re
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from docvouch.passages import Passage, Symbol, VersionNote

UrlFor = Callable[[str, str], str]  # (module, qualified name) -> URL with anchor

_SIMPLE_CONSTANT = (int, float, str, bytes, bool, frozenset, tuple, type(None))
# "keyword  Explanation" rows and "name=" mentions: how docstrings list **kwargs.
_DEFLIST_ROW_RE = re.compile(r"^\s{0,8}([a-z_][a-z0-9_]*)\s{2,}\S", re.MULTILINE)
_ASSIGN_RE = re.compile(r"\b([a-z_][a-z0-9_]*)=")
_MARKED_RE = re.compile(r"(?:``|`|\*)([a-z_][a-z0-9_]*)(?:``|`|\*)")
_CAPWORD_RE = re.compile(r"\b([A-Z][A-Za-z0-9]+|[a-z]+_[a-z_]+)\b")
_ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")
_DOCSIG_RE = re.compile(r"^\s*[\w.]+\((.*?)\)", re.DOTALL)
_MAX_DOC_CHARS = 6000
MIN_CLOSED_KEYWORDS = 3
# "returning a Pattern object", "Return a new Cursor": the class as the docs spell it.
_RETURNS_RE = re.compile(r"\b[Rr]eturn(?:s|ing)?\s+(?:a|an|the)\s+(?:new\s+)?[`*]*"
                         r"([A-Za-z_]\w*)(?![\w-])[`*]*(\s+(?:object|instance))?")
_VERSION_NOTE_RE = re.compile(
    r"(New in version|Added in version|Changed in version|Deprecated since version|"
    r"Removed in version)\s+(\d+\.\d+)", re.I)
_NOTE_KIND = {"new": "added", "added": "added", "changed": "changed", "deprecated": "deprecated",
              "removed": "removed"}


def version_notes(text: str) -> list[VersionNote]:
    """Structured "New in version 3.8" / "Deprecated since version 3.12" notes of a text."""
    notes = []
    for match in _VERSION_NOTE_RE.finditer(text):
        kind = _NOTE_KIND[match.group(1).split()[0].lower()]
        end = text.find("\n\n", match.end())
        sentence = text[match.start(): end if end != -1 else match.end() + 160]
        notes.append(VersionNote(kind, match.group(2), " ".join(sentence.split())[:240]))  # type: ignore[arg-type]
    return notes


@dataclass
class ApiCollection:
    """What one introspection run found, in index order."""

    passages: list[Passage] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (module, reason)
    _seen: set[str] = field(default_factory=set)

    def add(self, passage: Passage, symbol: Symbol | None) -> int:
        index = len(self.passages)
        self.passages.append(passage)
        if symbol is not None:
            symbol.passage = index
            self.symbols.append(symbol)
            self._seen.add(symbol.name)
        return index

    def alias(self, name: str, target_passage: int, like: Symbol, *, kind: str = "") -> None:
        """A name that resolves to an already documented object (inheritance, re-export)."""
        if name in self._seen:
            return
        self._seen.add(name)
        self.symbols.append(
            Symbol(
                name=name, kind=kind or like.kind, passage=target_passage, params=like.params,  # type: ignore[arg-type]
                signature=like.signature, var_keyword=like.var_keyword,
                documented_keywords=like.documented_keywords,
            )
        )

    def has(self, name: str) -> bool:
        return name in self._seen


def import_quietly(name: str) -> types.ModuleType:
    """Import a module with its stdout/stderr chatter and warnings suppressed."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


def public_submodules(package: types.ModuleType, *, skip: frozenset[str]) -> list[str]:
    """Dotted names of a package's public submodules (recursively), excluding ``skip``."""
    path = getattr(package, "__path__", None)
    if not path:
        return []
    names = []
    for info in pkgutil.walk_packages(path, prefix=package.__name__ + ".", onerror=lambda _: None):
        parts = info.name.split(".")
        if any(p.startswith("_") or p in skip for p in parts):
            continue
        names.append(info.name)
    return names


def signature_of(obj: object) -> tuple[str, list[str] | None, bool]:
    """(display signature, names accepted as keywords or None if unknown, has **kwargs)."""
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except Exception:
        return _signature_from_doc(obj)
    keywords = [
        p.name for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    if keywords and keywords[0] in ("self", "cls"):
        keywords = keywords[1:]
    return str(sig), keywords, var_kw


def _signature_from_doc(obj: object) -> tuple[str, list[str] | None, bool]:
    # Builtins without __text_signature__ document it in the first docstring line:
    # "startswith(prefix[, start[, end]]) -> bool"
    # Several forms may follow, one a line ("int([x]) -> integer" then "int(x, base=10)"):
    # a keyword of any of them is accepted.
    doc = inspect.getdoc(obj) or ""
    forms: list[str] = []
    for line in doc.split("\n\n", 1)[0].splitlines():
        if line[:1].isspace():
            continue  # a form's description goes on, indented ("dict(mapping) -> ...")
        match = _DOCSIG_RE.match(line)
        if match is None:
            break  # the forms are the docstring's first lines; a later "f(x)" is an example
        forms.append(match.group(1))
    if not forms:
        return "", None, False
    if any(re.fullmatch(r"\s*\*\*\w+\s*", inner) for inner in forms):
        # "dict(**kwargs) -> ... initialized with the name=value pairs": any keyword is
        # valid, and the names in its description are examples: nothing to check against
        return f"({forms[0]})", None, True
    keywords: list[str] = []
    for inner in forms:
        names = re.findall(r"\*{0,2}([A-Za-z_]\w*)", inner)
        keywords += [n for n in names if f"**{n}" not in inner and f"*{n}" not in inner
                     and n not in keywords]
    var_kw = any("**" in inner for inner in forms)
    return f"({forms[0]})", keywords, var_kw


def _keywords_of(targets: tuple[str, ...] | None) -> set[str] | None:
    """The keyword parameters of the callables ``targets`` name, or None if one cannot be read."""
    if targets is None:
        return None
    names: set[str] = set()
    for dotted in targets:
        if dotted.startswith("="):  # a keyword named outright
            names.add(dotted[1:])
            continue
        module_name, _, rest = dotted.partition(".")
        try:
            obj: object = importlib.import_module(module_name)
            for part in rest.split("."):
                obj = getattr(obj, part)
            params = inspect.signature(obj).parameters.values()  # type: ignore[arg-type]
        except (ImportError, AttributeError, TypeError, ValueError):
            return None
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name not in ("self", "cls")}
    return names


def documented_keywords(doc: str) -> list[str]:
    """Keyword names a docstring lists for a ``**kwargs`` signature."""
    found = (set(_DEFLIST_ROW_RE.findall(doc)) | set(_ASSIGN_RE.findall(doc))
             | set(_MARKED_RE.findall(doc)))
    return sorted(found)


def _kind_of(obj: object, *, in_class: bool) -> str | None:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isroutine(obj) or isinstance(obj, (classmethod, staticmethod)):
        return "method" if in_class else "function"
    if isinstance(obj, (property, types.GetSetDescriptorType, types.MemberDescriptorType)):
        return "attribute"
    if isinstance(obj, _SIMPLE_CONSTANT):
        return "attribute" if in_class else "data"
    return None


def _clip(doc: str) -> str:
    return doc if len(doc) <= _MAX_DOC_CHARS else doc[:_MAX_DOC_CHARS].rsplit(" ", 1)[0] + " …"


class ApiWalker:
    """Walks modules and fills an :class:`ApiCollection`."""

    def __init__(self, collection: ApiCollection, *, corpus: str, version: str,
                 url_for: UrlFor, forwards: Mapping[str, tuple[str, ...]] | None = None
                 ) -> None:
        self.out = collection
        self.corpus = corpus
        self.version = version
        self.url_for = url_for
        # `**kwargs` a callable passes on to one its docstring does not name: dotted name ->
        # the callables whose keywords it accepts, or "=name" for one keyword outright
        self.forwards = forwards or {}
        # id(defining object) -> (passage index, symbol): resolves inherited members
        self._documented: dict[int, tuple[int, Symbol]] = {}

    def walk_module(self, module: types.ModuleType, public_name: str,
                    *, bare_names: bool = False) -> None:
        """Document a module and its public members.

        ``bare_names`` registers members without the module prefix (builtins: ``sorted``).
        """
        doc = inspect.getdoc(module) or ""
        first = doc.split("\n", 1)[0]
        mod_symbol = Symbol(name=public_name, kind="module", passage=-1)
        self._module_passage = self.out.add(
            self._passage(public_name, public_name, f"{public_name} — {first}".strip(" —"),
                          _clip(doc), heading=[public_name]),
            mod_symbol,
        )
        prefix = "" if bare_names else public_name + "."
        first_symbol = len(self.out.symbols)
        for name, obj in self._members(module, include_foreign=bare_names):
            qualified = prefix + name
            if inspect.ismodule(obj):
                continue
            kind = _kind_of(obj, in_class=False)
            if kind is None:
                # An instance (sys.stdout, os.environ): real, but documented by the module.
                self.out.alias(qualified, self._module_passage, mod_symbol, kind="data")
                continue
            if not bare_names and self._reexported_elsewhere(obj, module):
                known = self._documented.get(id(obj))
                if known is not None:
                    self.out.alias(qualified, known[0], known[1])
                    continue
            self._document(obj, qualified, public_name, kind, heading=[public_name])
            if inspect.isclass(obj):
                self._walk_class(obj, qualified, public_name)
        self._link_forwarded_keywords(self.out.symbols[first_symbol:])
        self._link_return_types(self.out.symbols[first_symbol:])

    def _link_return_types(self, symbols: list[Symbol]) -> None:
        """"Return a cursor for the connection." → ``returns = "sqlite3.Cursor"``.

        The docs name the class of a result in prose; matching the word against the classes
        the same module documents lets ``conn.cursor().fetch_all()`` be checked.
        """
        classes = {s.name.rsplit(".", 1)[-1].lower(): s.name for s in symbols
                   if s.kind in ("class", "exception") and s.passage >= 0}
        if not classes:
            return
        for symbol in symbols:
            if symbol.kind not in ("function", "method") or symbol.returns:
                continue
            text = self.out.passages[symbol.passage].text
            first_paragraph = text.split("\n\n", 2)[1] if "\n\n" in text else text
            for word, says_object in _RETURNS_RE.findall(first_paragraph):
                target = classes.get(word.lower())
                # lower-case prose ("the path") names a class only when followed by "object"
                if target and (says_object or target.rsplit(".", 1)[-1] == word):
                    symbol.returns = target
                    break

    def _link_forwarded_keywords(self, symbols: list[Symbol]) -> None:
        """``run(*args, **kwargs)`` forwards to ``Popen``: accept what its docs name too."""
        by_short = {s.name.rsplit(".", 1)[-1]: s for s in symbols if s.params is not None}
        for symbol in symbols:
            if not symbol.var_keyword:
                continue
            # The docstring only: the passage's first line is the symbol's own dotted name,
            # whose class (`Logger` in `logging.Logger.info`) forwards nothing to it.
            doc = self.out.passages[symbol.passage].text.partition("\n")[2]
            owners = set(symbol.name.split(".")[:-1])
            extra: set[str] = set()
            for word in set(_CAPWORD_RE.findall(doc)) - owners:
                target = by_short.get(word)
                if target is not None and target is not symbol:
                    extra.update(target.params or ())
                    extra.update(target.documented_keywords)
            if extra:
                symbol.documented_keywords = sorted(set(symbol.documented_keywords) | extra)
            forwarded = _keywords_of(self.forwards.get(symbol.name))
            if forwarded is not None:
                symbol.documented_keywords = sorted(forwarded)
                continue
            named = set(symbol.documented_keywords) - set(symbol.params or ())
            if len(named) < MIN_CLOSED_KEYWORDS:
                symbol.documented_keywords = []  # too few named: the docs do not close the list

    def _members(self, module: types.ModuleType,
                 *, include_foreign: bool = False) -> Iterator[tuple[str, object]]:
        names = getattr(module, "__all__", None)
        if not isinstance(names, (list, tuple)):
            names = [n for n in vars(module) if not n.startswith("_")]
        else:
            names = [*names, *self._unlisted_exports(module)]
        for name in sorted(set(names)):
            if not isinstance(name, str) or name.startswith("_"):
                continue
            try:
                obj = getattr(module, name)
            except Exception:
                continue
            if (not include_foreign and "__all__" not in vars(module)
                    and not self._defined_in(obj, module)):
                continue
            yield name, obj

    @staticmethod
    def _unlisted_exports(module: types.ModuleType) -> list[str]:
        """Public classes and functions an ``__all__`` misses, all the same part of the module:
        what a package imports from its own submodules (3.11.2's asyncio lacks TaskGroup), and
        what a module takes from its C accelerator only when it is there (``hashlib.scrypt``
        from ``_hashlib``, present when OpenSSL has it)."""
        own = module.__name__ + "."
        accelerator = "_" + module.__name__.rsplit(".", 1)[-1]
        package = hasattr(module, "__path__")
        out = []
        for name, value in vars(module).items():
            if name.startswith("_") or not (inspect.isclass(value) or inspect.isroutine(value)):
                continue
            owner = getattr(value, "__module__", None) or ""
            if (package and owner.startswith(own)) or owner == accelerator:
                out.append(name)
        return out

    @staticmethod
    def _defined_in(obj: object, module: types.ModuleType) -> bool:
        if not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)):
            return True  # constants and instances (sys.stdout) belong to where they live
        owner = getattr(obj, "__module__", None) or ""
        # sqlite3.connect lives in _sqlite3, pathlib's classes in pathlib: both are public here
        return (owner == module.__name__ or owner.startswith(module.__name__ + ".")
                or owner.startswith("_"))

    @staticmethod
    def _reexported_elsewhere(obj: object, module: types.ModuleType) -> bool:
        owner = getattr(obj, "__module__", None)
        return bool(owner) and owner != module.__name__ and not owner.startswith("_")

    def _walk_class(self, cls: type, qualified: str, module_name: str) -> None:
        # dir() can be customised (Enum hides .name/.value): read the MRO's dicts too
        names = set(dir(cls)).union(*(vars(k).keys() for k in cls.__mro__))
        for name in sorted(n for n in names if isinstance(n, str)):
            if name.startswith("_"):
                continue
            definer = next((k for k in cls.__mro__ if name in vars(k)), None)
            if definer is None or definer is object:
                continue
            raw = vars(definer)[name]
            kind = _kind_of(raw, in_class=True)
            if kind is None:
                self.out.alias(f"{qualified}.{name}", self._module_passage,
                               Symbol(name="", kind="attribute", passage=-1), kind="attribute")
                continue
            member_name = f"{qualified}.{name}"
            key = id(raw)
            if definer is not cls and key in self._documented:
                index, symbol = self._documented[key]
                self.out.alias(member_name, index, symbol)
                continue
            obj = getattr(cls, name, raw)
            self._document(obj, member_name, module_name, kind, heading=[module_name, qualified],
                           key=key)

    def _document(self, obj: object, qualified: str, module_name: str, kind: str,
                  *, heading: list[str], key: int | None = None) -> None:
        if self.out.has(qualified):
            return
        params: list[str] | None = None
        signature, var_kw = "", False
        if kind in ("function", "method", "class", "exception"):
            signature, params, var_kw = signature_of(obj)
        doc = inspect.getdoc(obj) or ""
        if kind in ("data", "attribute") and isinstance(obj, _SIMPLE_CONSTANT):
            doc = doc if not isinstance(obj, (int, float, str, bytes, bool)) else ""
            shown = repr(obj)
            signature = f" = {shown[:80]}" if len(shown) <= 80 else ""
        header = f"{qualified}{signature}"
        text = f"{header}\n\n{doc}".strip() if doc else header
        signature = _ADDRESS_RE.sub("", signature)  # "<function f at 0x7f…>": not reproducible
        notes = version_notes(doc)
        symbol = Symbol(
            name=qualified, kind=kind, passage=-1, params=params, signature=signature,  # type: ignore[arg-type]
            var_keyword=var_kw,
            documented_keywords=documented_keywords(doc) if var_kw else [],
            version_notes=[n for n in notes if n.kind in ("added", "removed")],
        )
        passage = self._passage(qualified, module_name, header, _clip(text), heading=heading,
                                symbol=qualified)
        index = self.out.add(passage, symbol)
        self._documented[key if key is not None else id(obj)] = (index, symbol)

    def _passage(self, qualified: str, module_name: str, title: str, text: str,
                 *, heading: list[str], symbol: str = "") -> Passage:
        return Passage(
            id=f"{self.corpus}:{qualified}", url=self.url_for(module_name, qualified),
            title=title, text=text, heading_path=heading, source=self.corpus,
            version=self.version, symbol=symbol, version_notes=version_notes(text),
        )
