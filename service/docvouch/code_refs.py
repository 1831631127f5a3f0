"""Symbol references in code: what names a snippet uses and with which keyword arguments.

Python is parsed with :mod:`ast` (imports resolve aliases, literals and constructors give
receiver types: ``text = "x"; text.contains(...)`` is a ``str`` method call); code that does
not parse, or is another language, falls back to a tolerant regex. Shell lines become
command references (``python -m json.tool`` names the module ``json.tool``).
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

RefKind = str  # "call" | "attribute" | "import" | "module" | "mention" | "flag"


@dataclass(slots=True)
class SymbolRef:
    """A name as an answer uses it, resolved through the answer's own imports."""

    name: str  # dotted and alias-resolved: "os.path.isdirectory", "str.contains"
    written: str  # as it appears: "osp.isdirectory", "text.contains"
    kind: RefKind = "call"
    keywords: list[str] = field(default_factory=list)
    receiver_typed: bool = False  # the head was a variable whose type we inferred
    # the head is a name the answer's code binds (a parameter, an assignment or loop target)
    # whose type we do not know: `def valid(email): email.endswith(...)` names no module
    local_head: bool = False


@dataclass(slots=True)
class RefContext:
    """What the whole answer tells us about names: import aliases, variable types."""

    aliases: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)  # local class -> its (first) base
    own_members: dict[str, set[str]] = field(default_factory=dict)  # names a local class defines
    defined: set[str] = field(default_factory=set)  # every function/method/attribute it defines
    # every name the answer's code binds (assigned, looped over, a parameter, `as` target):
    # what it holds comes from the code, so its name says nothing about its type
    bound: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)  # dotted names imported with `import`
    # functions the answer defines under a decorator: the decorator decides their
    # attributes (`@lru_cache def fib` has `fib.cache_info()`), so none is checked
    decorated: set[str] = field(default_factory=set)


# Variable names that, in answers, nearly always hold one builtin type.
_NAME_TYPES = {
    **dict.fromkeys(("text", "s", "string", "line", "word", "sentence", "my_str", "my_string",
                     "name", "title", "greeting", "message", "msg", "url_string", "txt"), "str"),
    **dict.fromkeys(("my_list", "lst", "items", "numbers", "nums", "xs", "values", "arr",
                     "fruits", "names", "result_list", "elements", "stack"), "list"),
    **dict.fromkeys(("d", "my_dict", "dictionary", "mapping", "counts", "ages", "scores",
                     "config_dict", "data_dict"), "dict"),
    **dict.fromkeys(("my_set", "seen", "unique"), "set"),
    **dict.fromkeys(("my_tuple", "point", "pair"), "tuple"),
}
_LITERAL_TYPES = {ast.List: "list", ast.ListComp: "list", ast.Dict: "dict", ast.DictComp: "dict",
                  ast.Set: "set", ast.SetComp: "set", ast.Tuple: "tuple", ast.JoinedStr: "str"}
_TRIVIAL_BUILTINS = frozenset({"print", "len", "range", "str", "int", "float", "list", "dict",
                               "set", "tuple", "bool", "type", "isinstance", "super", "repr",
                               "enumerate", "zip", "input", "abs", "min", "max", "sum", "iter",
                               "next", "id", "hash", "object", "bytes"})
# What common factories return, so `cur = conn.cursor(); cur.fetch_all()` is checkable.
RETURNS = {
    "sqlite3.connect": "sqlite3.Connection", "sqlite3.Connection.cursor": "sqlite3.Cursor",
    "sqlite3.Connection.execute": "sqlite3.Cursor", "logging.getLogger": "logging.Logger",
    "re.compile": "re.Pattern", "re.match": "re.Match", "re.search": "re.Match",
    "re.fullmatch": "re.Match", "re.Pattern.match": "re.Match", "re.Pattern.search": "re.Match",
    "subprocess.run": "subprocess.CompletedProcess", "subprocess.Popen": "subprocess.Popen",
    "open": "io.TextIOWrapper", "datetime.datetime.now": "datetime.datetime",
    "datetime.date.today": "datetime.date", "collections.Counter": "collections.Counter",
    "argparse.ArgumentParser.parse_args": "argparse.Namespace",
    "argparse.ArgumentParser.add_subparsers": "argparse._SubParsersAction",
    "threading.Thread": "threading.Thread", "socket.socket": "socket.socket",
    "urllib.parse.urlparse": "urllib.parse.ParseResult", "zipfile.ZipFile": "zipfile.ZipFile",
    "csv.DictReader": "csv.DictReader", "csv.DictWriter": "csv.DictWriter",
    "hashlib.sha256": "hashlib._Hash", "asyncio.get_running_loop": "asyncio.AbstractEventLoop",
    "tempfile.NamedTemporaryFile": "tempfile._TemporaryFileWrapper",
    "concurrent.futures.ThreadPoolExecutor.submit": "concurrent.futures.Future",
    "concurrent.futures.ProcessPoolExecutor.submit": "concurrent.futures.Future",
}
# Context managers whose `with ... as name` binds something else than themselves.
ENTER_GIVES_ARGUMENT = frozenset({"contextlib.closing", "contextlib.nullcontext"})
ENTER_GIVES = {"tempfile.TemporaryDirectory": "str"}
# Methods that return an instance of their own class (classmethod constructors, copies).
SAME_TYPE = frozenset({"home", "cwd", "now", "today", "utcnow", "resolve", "absolute",
                       "expanduser", "with_suffix", "with_name", "with_stem", "joinpath",
                       "relative_to", "copy", "replace", "astimezone", "upper", "lower",
                       "strip", "lstrip", "rstrip", "title", "casefold"})
# What iterating over a factory's result yields.
ITERATES = {
    "os.scandir": "os.DirEntry", "pathlib.Path.glob": "pathlib.Path",
    "pathlib.Path.rglob": "pathlib.Path", "pathlib.Path.iterdir": "pathlib.Path",
    "csv.DictReader": "dict", "str.split": "str", "str.splitlines": "str",
    "dict.items": "tuple", "re.finditer": "re.Match", "re.Pattern.finditer": "re.Match",
}
# The lookahead rejects plain words (no dot after them) before the capturing match.
_DOTTED_CALL_RE = re.compile(
    r"(?<![\w.])(?=[A-Za-z_]\w*\.)([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\s*(\()?")
# Domain and file names in prose ("example.com", "logging.ini"): never a dotted API name.
_FILE_NAME_RE = re.compile(
    r"\.(?:com|org|net|io|py|txt|json|md|html|csv|toml|yaml|yml|cfg|ini|conf|xml|sqlite)$")
_KWARG_RE = re.compile(r"[(,]\s*([A-Za-z_]\w*)\s*=(?!=)")
_PROMPT_RE = re.compile(r"^\s*(?:\$|%|>|PS [^>]*>|\(\S+\)\s*\$)\s+")
# `csv.DictReader`, `open()`: most inline code is a bare name or an argument-less call
# `newline=""`, `reverse=True`, `maxsize=128`: a keyword set to a literal names nothing (the
# syntax tree holds no call, attribute or import), so it is answered without parsing.
_KEYWORD_LITERAL_RE = re.compile(
    r"""[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?:"[^"\\\n]*"|'[^'\\\n]*'|-?\d+(?:\.\d+)?|True|False|None)\Z""")
_BARE_NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\(\))?\Z")
_PY_DASH_M_RE = re.compile(r"\bpython(?:3(?:\.\d+)?)?\s+(?:-\w+\s+)*-m\s+([A-Za-z_][\w.]*)")
_FLAG_RE = re.compile(r"(?<!\S)(--?[A-Za-z][\w-]*)")


def import_aliases(code: str) -> Mapping[str, str]:
    """Local name → dotted target for every import in ``code`` (empty if it does not parse)."""
    tree = _parse(code)
    if tree is None:
        return {}
    return _aliases_of(tree)


def learn_names(blocks: list[str], ctx: RefContext) -> None:
    """Variable types and local classes from every code block, so prose can use them."""
    for code in blocks:
        tree = _parse(code)
        if tree is None:
            continue
        collector = _RefCollector(ctx, _aliases_of(tree))
        for node in _tree_nodes(tree):
            if isinstance(node, ast.ClassDef):
                collector.note_class(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                ctx.defined.add(node.name)
            elif isinstance(node, ast.Import):
                ctx.modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                ctx.defined.add(node.attr)
        ctx.bound.update(_bound_names(tree))
        ctx.decorated.update(
            node.name for node in tree.body  # module level: a method is reached through self
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list)
        for stmt in _statements(tree):
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                collector.note_assignment(stmt)
            for item in getattr(stmt, "items", ()):
                if isinstance(item, ast.withitem) and item.optional_vars is not None:
                    collector.note_binding(item.optional_vars, item.context_expr,
                                           entered=True)
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                collector.note_loop(stmt)
    ctx.variables.pop("self", None)


@lru_cache(maxsize=512)
def _aliases_of(tree: ast.Module) -> Mapping[str, str]:
    """Imports of a parsed snippet (read for imports, names and claims: computed once;
    read-only, as the tree it comes from is shared)."""
    aliases: dict[str, str] = {}
    for node in _tree_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:  # `import os.path` binds `os`: its attributes are worth checking
                    head = alias.name.split(".", 1)[0]
                    aliases.setdefault(head, head)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return MappingProxyType(aliases)


@lru_cache(maxsize=512)
def _bound_names(tree: ast.Module) -> frozenset[str]:
    """Every name a parsed snippet binds: assignment and loop targets, parameters."""
    nodes = _tree_nodes(tree)
    stored = [n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    return frozenset(stored + [n.arg for n in nodes if isinstance(n, ast.arg)])


def walk(node: ast.AST) -> list[ast.AST]:
    """``node`` and everything under it, breadth first (the order of :func:`ast.walk`),
    without the Load/Store/Del markers (a third of the nodes, and never a reference).

    A list instead of ``ast.walk``'s generator chain: claim extraction walks every
    statement of every snippet, and this is about twice as fast.
    """
    nodes = [node]
    append, extend = nodes.append, nodes.extend
    for current in nodes:  # the list grows while it is read: breadth first
        for name in current._fields:
            if name == "ctx":  # an expression's context marker
                continue
            value = getattr(current, name, None)
            if isinstance(value, ast.AST):
                append(value)
            elif isinstance(value, list):
                extend(v for v in value if isinstance(v, ast.AST))
    return nodes


@lru_cache(maxsize=512)
def _tree_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node of a parsed snippet (trees come from ``_parse``'s cache and are shared)."""
    return walk(tree)


def clear_caches() -> None:
    """Forget parsed snippets (benchmarks measure answers the process has not seen)."""
    _parse.cache_clear()
    _tree_nodes.cache_clear()
    _aliases_of.cache_clear()
    _bound_names.cache_clear()


@lru_cache(maxsize=512)
def _parse(code: str) -> ast.Module | None:
    """Parse once per snippet: a block is read for imports, names and claims (trees are
    only read, never modified, so sharing them is safe)."""
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _RefCollector:
    def __init__(self, ctx: RefContext, aliases: Mapping[str, str],
                 block: ast.Module | None = None) -> None:
        self.ctx = ctx
        self.aliases = {**ctx.aliases, **aliases}
        # in a code block that imports a name and never binds it, the name is the module,
        # whatever another block of the answer binds to that name
        self.imported_here = (frozenset(aliases) - _bound_names(block)
                              if block is not None else frozenset())
        self.variables = ctx.variables  # shared: a later block uses an earlier block's names
        self.classes = ctx.classes

    def note_class(self, node: ast.ClassDef) -> None:
        members = self.ctx.own_members.setdefault(node.name, set())
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                members.add(stmt.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                members.update(t.id for t in targets if isinstance(t, ast.Name))
        for base in node.bases:
            written = dotted_name(base)
            if written:
                self.classes[node.name] = self.resolve(written)[0]
                return

    def note_loop(self, stmt: ast.For | ast.AsyncFor) -> None:
        if isinstance(stmt.target, ast.Name):
            element = self.element_type(stmt.iter)
            if element:
                self.variables[stmt.target.id] = element
            else:
                self.variables.pop(stmt.target.id, None)

    def note_binding(self, target: ast.AST, value: ast.AST | None, *,
                     entered: bool = False) -> None:
        """``name = X()`` / ``with X() as name`` (``entered``): remember what ``name`` holds."""
        if value is None:
            kind = None
        else:
            kind = self.entered_type(value) if entered else self.type_of(value)
        if isinstance(target, ast.Name):
            if kind:
                self.variables[target.id] = kind
            else:
                self.variables.pop(target.id, None)

    def resolve(self, written: str) -> tuple[str, bool]:
        head, _, rest = written.partition(".")
        if head in self.aliases:
            return (self.aliases[head] + ("." + rest if rest else "")), False
        if rest and head in self.classes:  # a class the answer defines: look in its base
            if rest.split(".", 1)[0] in self.ctx.own_members.get(head, ()):
                return written, False  # the answer's own member: nothing to check
            return f"{self.classes[head]}.{rest}", True
        if rest and head in self.variables:
            held = self.variables[head]
            if held in self.classes:  # an instance of a class the answer defines
                return self.resolve(f"{held}.{rest}")
            return f"{held}.{rest}", True
        if rest and head in _NAME_TYPES and head not in self.aliases \
                and head not in self.ctx.bound:
            return f"{_NAME_TYPES[head]}.{rest}", True
        return written, False

    def ref(self, written: str, kind: RefKind, keywords: list[str] | None = None) -> SymbolRef:
        """A reference to ``written``, resolved through the answer's imports and types."""
        name, typed = self.resolve(written)
        # Bound somewhere in the answer and not rewritten: even where an import of the same
        # name exists elsewhere (`queue = deque()` in one block, `import queue` in another)
        head = written.partition(".")[0]
        local = (not typed and name == written and head in self.ctx.bound
                 and head not in self.imported_here)
        return SymbolRef(name, written, kind, keywords or [], receiver_typed=typed,
                         local_head=local)

    def note_assignment(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            self.note_binding(target, node.value)

    def type_of(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.variables.get(node.id)
        if isinstance(node, ast.Constant):
            return type(node.value).__name__ if isinstance(node.value, (str, bytes)) else None
        for literal, name in _LITERAL_TYPES.items():
            if isinstance(node, literal):
                return name
        if isinstance(node, ast.Call):
            callee = dotted_name(node.func)
            if callee == "super":  # the parent class's members, which we cannot name here
                return None
            if callee is None and isinstance(node.func, ast.Attribute):
                receiver = self.type_of(node.func.value)  # Path("x").resolve()
                callee_resolved = f"{receiver}.{node.func.attr}" if receiver else None
            else:
                callee_resolved = self.resolve(callee)[0] if callee else None
            if callee_resolved:
                # A constructor gives an instance of itself (deque(), Path()); for a plain
                # function the "type" is the function, whose members are never documented,
                # so the symbol table answers "unverified" rather than guessing.
                if callee_resolved in RETURNS:
                    return RETURNS[callee_resolved]
                owner, _, method = callee_resolved.rpartition(".")
                # a module named like a class (`xml.etree.ElementTree.fromstring()`) is not one
                if owner and owner not in self.ctx.modules and (
                        method in SAME_TYPE or method.startswith("from")) and (
                        owner.rsplit(".", 1)[-1][:1].isupper() or owner in _NAME_TYPES.values()):
                    return owner  # Path.home(), datetime.now(), p.with_suffix(): same class
                return callee_resolved
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.type_of(node.left)  # base / "notes.txt" is still a Path
            if left and left.endswith("Path"):
                return left
        return None

    def entered_type(self, manager: ast.AST) -> str | None:
        """What ``with manager as name`` binds: ``__enter__``'s result, which is the manager
        itself for files, connections and executors, but the wrapped object for
        `closing(conn)` and a path string for `TemporaryDirectory()`."""
        if not isinstance(manager, ast.Call):
            return self.type_of(manager)
        written = dotted_name(manager.func)
        callee = self.resolve(written)[0] if written else None
        if callee in ENTER_GIVES_ARGUMENT:
            return self.type_of(manager.args[0]) if manager.args else None
        if callee in ENTER_GIVES:
            return ENTER_GIVES[callee]
        # otherwise as for an assignment: a class gives itself, and a function's "type" is
        # the function, whose members the symbol table never calls missing
        return self.type_of(manager)

    def element_type(self, iterable: ast.AST) -> str | None:
        """What ``for x in iterable`` binds x to, for the iterables we know."""
        if isinstance(iterable, ast.Call):
            callee = dotted_name(iterable.func)
            if callee is None and isinstance(iterable.func, ast.Attribute):
                receiver = self.type_of(iterable.func.value)
                callee_resolved = f"{receiver}.{iterable.func.attr}" if receiver else None
            else:
                callee_resolved = self.resolve(callee)[0] if callee else None
            return ITERATES.get(callee_resolved or "")
        if isinstance(iterable, ast.Name) and iterable.id in self.variables:
            return ITERATES.get(self.variables[iterable.id])
        return None

    def refs_of(self, node: ast.AST) -> list[SymbolRef]:
        refs: list[SymbolRef] = []
        nodes = walk(node)
        inner = _inner_attribute_ids(nodes)
        for sub in nodes:
            if isinstance(sub, ast.Call):
                ref = self._call_ref(sub)
                if ref:
                    refs.append(ref)
            elif isinstance(sub, ast.Attribute) and id(sub) not in inner:
                written = dotted_name(sub)
                if written and self._worth_checking(written):
                    refs.append(self.ref(written, "attribute"))
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                refs.extend(SymbolRef(f"{sub.module}.{a.name}", f"{sub.module}.{a.name}", "import")
                            for a in sub.names if a.name != "*")
            elif isinstance(sub, ast.Import):
                refs.extend(SymbolRef(a.name, a.name, "module") for a in sub.names if "." in a.name)
        return refs

    def _call_ref(self, call: ast.Call) -> SymbolRef | None:
        keywords = [k.arg for k in call.keywords if k.arg]
        written = dotted_name(call.func)
        if written is None and isinstance(call.func, ast.Attribute):
            receiver = self.type_of(call.func.value)
            if receiver:
                return SymbolRef(f"{receiver}.{call.func.attr}", f"….{call.func.attr}", "call",
                                 keywords, receiver_typed=True)
            return None
        if written is None:
            return None
        if written in _TRIVIAL_BUILTINS and not keywords:
            return None
        head = written.partition(".")[0]
        if "." in written and head in self.ctx.decorated and head not in self.aliases:
            return None  # `fib.cache_info()`; but `json.loadz()` under `import json` is checked
        return self.ref(written, "call", keywords)

    def _worth_checking(self, written: str) -> bool:
        head = written.split(".", 1)[0]
        return head in self.aliases or head in self.variables or head in _NAME_TYPES


def _inner_attribute_ids(nodes: list[ast.AST]) -> set[int]:
    """Attributes that are a call's callee or the inner part of a longer chain.

    Those are reported through the call or the outer attribute, not on their own.
    """
    inner: set[int] = set()
    for sub in nodes:
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            inner.add(id(sub.func))
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute):
            inner.add(id(sub.value))
    return inner


def code_lines(body: str, ctx: RefContext) -> Iterator[tuple[int, int, str, list[SymbolRef]]]:
    """(offset, length, source, refs) for each statement of ``body`` that uses names."""
    tree = _parse(body)
    starts = [0]
    for m in re.finditer("\n", body):
        starts.append(m.end())
    if tree is None:
        yield from _regex_lines(body, starts, ctx)
        return
    collector = _RefCollector(ctx, _aliases_of(tree), tree)
    class_spans = [(node.lineno, node.end_lineno or node.lineno, node)
                   for node in _tree_nodes(tree) if isinstance(node, ast.ClassDef)]
    for node, _, _ in [(c, 0, 0) for _, _, c in class_spans]:
        collector.note_class(node)
    for stmt in _statements(tree):
        enclosing = [c for first, last, c in class_spans if first < stmt.lineno <= last]
        owner = enclosing[-1].name if enclosing else None
        if owner in collector.classes:  # self/cls: the local class, then its documented base
            collector.variables["self"] = owner
            collector.variables["cls"] = owner
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            refs = collector.refs_of(stmt)
            collector.note_assignment(stmt)
        elif isinstance(stmt, ast.Import):
            refs = collector.refs_of(stmt)
        else:
            refs = collector.refs_of(_header_of(stmt))
            for item in getattr(stmt, "items", ()):
                if isinstance(item, ast.withitem) and item.optional_vars is not None:
                    collector.note_binding(item.optional_vars, item.context_expr,
                                           entered=True)
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                collector.note_loop(stmt)
        if not refs:
            continue
        first = stmt.lineno - 1
        last = (stmt.end_lineno or stmt.lineno) - 1 if not _is_compound(stmt) else first
        offset = starts[first] + (stmt.col_offset if first == stmt.lineno - 1 else 0)
        end = starts[last + 1] - 1 if last + 1 < len(starts) else len(body)
        source = body[offset:end].rstrip()
        yield offset, len(source), source, refs


def _statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements in source order (except clauses count: they name exception classes)."""
    nodes = [n for n in _tree_nodes(tree) if isinstance(n, (ast.stmt, ast.ExceptHandler))]
    yield from sorted(nodes, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[misc]


def _is_compound(stmt: ast.AST) -> bool:
    return hasattr(stmt, "body")


def _header_of(stmt: ast.stmt) -> ast.AST:
    """The part of a statement outside its nested body (bodies yield their own claims)."""
    if not _is_compound(stmt):
        return stmt
    parts: list[ast.AST] = []
    for name in ("test", "iter", "items", "decorator_list", "returns", "type",
                 "keywords", "subject"):
        value = getattr(stmt, name, None)
        if isinstance(value, list):
            parts.extend(v.context_expr if isinstance(v, ast.withitem) else v
                         for v in value if isinstance(v, ast.AST))
        elif isinstance(value, ast.AST):
            parts.append(value)
    return ast.Module(body=[ast.Expr(p) if isinstance(p, ast.expr) else p for p in parts
                            if isinstance(p, (ast.expr, ast.stmt))], type_ignores=[])


def _regex_lines(body: str, starts: list[int], ctx: RefContext
                 ) -> Iterator[tuple[int, int, str, list[SymbolRef]]]:
    collector = _RefCollector(ctx, {})
    for n, start in enumerate(starts):
        end = starts[n + 1] - 1 if n + 1 < len(starts) else len(body)
        line = body[start:end]
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        refs = _regex_refs(line, collector)
        if refs:
            lead = len(line) - len(line.lstrip())
            yield start + lead, len(stripped), stripped, refs


def _regex_refs(line: str, collector: _RefCollector) -> list[SymbolRef]:
    refs = []
    keywords = _KWARG_RE.findall(line)
    for m in _DOTTED_CALL_RE.finditer(line):
        called = bool(m.group(2))
        refs.append(collector.ref(m.group(1), "call" if called else "attribute",
                                  keywords if called else []))
    return refs


def inline_refs(code: str, ctx: RefContext) -> list[SymbolRef]:
    """References in an inline code span of prose: a name, a call, ``python -m x``, a flag."""
    code = code.strip()
    module = _PY_DASH_M_RE.search(code)
    if module:
        return [SymbolRef(module.group(1), module.group(1), "module")]
    if code.startswith("-") and " " not in code:
        return [SymbolRef(code.split("=", 1)[0], code, "flag")]
    bare = _BARE_NAME_RE.match(code)
    if bare and not any(keyword.iskeyword(part) for part in bare.group(1).split(".")):
        return _bare_name_refs(bare.group(1), bool(bare.group(2)), ctx)
    if _KEYWORD_LITERAL_RE.match(code):
        return []
    if code[:1] == "." and code[1:2].isalpha():  # `.csv`, `.strip()`: never valid Python
        return _regex_refs(code, _RefCollector(ctx, {}))
    return parsed_inline_refs(code, ctx)


def _bare_name_refs(written: str, called: bool, ctx: RefContext) -> list[SymbolRef]:
    """What :func:`parsed_inline_refs` finds in ``a.b.c`` or ``a.b.c()``, without parsing:
    a third of the claim extraction's time went to ``ast.parse`` of such spans."""
    if called and written in _TRIVIAL_BUILTINS:
        return []
    kind: RefKind = "call" if called else "attribute" if "." in written else "mention"
    return [_RefCollector(ctx, {}).ref(written, kind)]


def parsed_inline_refs(code: str, ctx: RefContext) -> list[SymbolRef]:
    """References in a stripped inline code span, read from its syntax tree."""
    tree = _parse(code)
    if tree is None:
        collector = _RefCollector(ctx, {})
        return _regex_refs(code, collector)
    collector = _RefCollector(ctx, _aliases_of(tree) if "import" in code else {})
    refs = collector.refs_of(tree)
    if not refs and len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        written = dotted_name(tree.body[0].value)
        if written:
            refs = [collector.ref(written, "attribute" if "." in written else "mention")]
    return refs


def prose_refs(text: str, ctx: RefContext) -> list[SymbolRef]:
    """Dotted calls written in prose without backticks (``os.path.join()``): explicit only."""
    refs = []
    for m in _DOTTED_CALL_RE.finditer(text):
        written = m.group(1)
        if not m.group(2) and written.count(".") < 1:
            continue
        if _FILE_NAME_RE.search(written):
            continue
        if len(written.split(".", 1)[0]) < 2:  # "e.g", "i.e": abbreviations, not names
            continue
        head = written.split(".", 1)[0]
        kind: RefKind = "call" if m.group(2) else "attribute"
        if head in ctx.aliases:  # explicit only: imports, not the types of variables
            refs.append(SymbolRef(ctx.aliases[head] + written[len(head):], written, kind))
        else:
            refs.append(SymbolRef(written, written, kind, local_head=head in ctx.bound))
    return refs


def command_lines(body: str) -> Iterator[tuple[int, str, list[SymbolRef]]]:
    """(offset, line, refs) for each shell command line of a code block."""
    offset = 0
    for raw in body.splitlines(keepends=True):
        line = raw.rstrip("\n").rstrip()
        prompt = _PROMPT_RE.match(line)
        cut = prompt.end() if prompt else len(line) - len(line.lstrip())
        command = line[cut:]
        if command and not command.startswith("#") and not _is_output(line, prompt, body):
            refs: list[SymbolRef] = []
            module = _PY_DASH_M_RE.search(command)
            if module:
                refs.append(SymbolRef(module.group(1), module.group(1), "module"))
            program = command.split()[0] if command.split() else ""
            refs.extend(SymbolRef(f"{program} {flag.split('=', 1)[0]}", flag, "flag")
                        for flag in _FLAG_RE.findall(command)
                        if program and not (module and flag == "-m"))
            yield offset + cut, command, refs
        offset += len(raw)


def _is_output(line: str, prompt: re.Match | None, body: str) -> bool:
    # In a transcript with prompts, lines without one are the program's output.
    has_prompts = any(_PROMPT_RE.match(ln) for ln in body.splitlines())
    return has_prompts and prompt is None
