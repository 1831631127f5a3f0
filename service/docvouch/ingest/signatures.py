"""Documented objects in generated HTML → symbol drafts with their parameters.

Sphinx renders every ``.. function::`` / ``.. class::`` / ``.. option::`` as
``<dl class="py function"><dt id="statistics.fmean">…<em class="sig-param">…</em></dt>
<dd>…</dd></dl>``; the ``dt`` id is the canonical qualified name and the anchor, and the
``sig-param`` elements are the parameters. Other generators give less, but enough:
DocBook's ``<dt id="GUC-WORK-MEM">`` names a PostgreSQL setting, a manual page's OPTIONS
definition list names its flags.
"""

from __future__ import annotations

import re

from lxml import etree

from docvouch.ingest.sections import SymbolDraft
from docvouch.passages import VersionNote

PY_KINDS = {
    "function": "function", "method": "method", "classmethod": "method",
    "staticmethod": "method", "class": "class", "exception": "exception",
    "attribute": "attribute", "property": "attribute", "data": "data",
    "decorator": "function", "decoratormethod": "method", "type": "class",
}
OPTION_KINDS = {"option", "cmdoption", "django-admin-option"}
CONFIG_KINDS = {"envvar", "setting", "confval", "configvalue"}
C_KINDS = {"function": "function", "macro": "data", "type": "class", "member": "attribute",
           "var": "data", "struct": "class", "union": "class", "enum": "class",
           "enumerator": "data"}
DOMAINS = {"py", "c", "cpp", "js", "std", "rst", "http"}

_NAME_RE = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*$")
_PARAM_NAME_RE = re.compile(r"[A-Za-z_]\w*")
_FLAG_RE = re.compile(r"(?:^|(?<=[\s,|\[(]))(--?[A-Za-z0-9?][A-Za-z0-9_.-]*)")
_CONFIG_KEY_RE = re.compile(r"^[a-z][\w-]*(?:\.[\w<>*-]+)+$", re.I)
# A deprecation note that is about the object itself, not one of its parameters or uses.
_WHOLE_DEPRECATION_RE = re.compile(
    r"^(?:use\b|deprecated in favou?r of\b|instead,? use\b|this (?:function|method|class|"
    r"module|attribute|property|constant|exception) is deprecated\b|not needed\b)", re.I)


def classes(element: etree._Element) -> set[str]:
    """The element's class tokens."""
    return set((element.get("class") or "").split())


def entry_kind(dl: etree._Element) -> tuple[str, str] | None:
    """(domain, object type) of a Sphinx object-description ``dl``, or None."""
    tokens = classes(dl) - {"simple", "docutils", "first", "last", "field-list", "glossary",
                            "footnote", "citation", "option-list"}
    if not tokens:
        return None
    domain = next((t for t in tokens if t in DOMAINS), "")
    rest = sorted(tokens - DOMAINS)
    objtype = rest[0] if rest else ""
    if not domain and objtype in PY_KINDS:
        domain = "py"  # Sphinx before 4 wrote class="function" alone
    if not domain and objtype in OPTION_KINDS | CONFIG_KINDS:
        domain = "std"
    if not domain and objtype in ("describe", "object"):
        domain = "std"
    return (domain, objtype) if domain else None


def flat(element: etree._Element) -> str:
    """Whitespace-normalised text of an element, permalink marks removed."""
    return " ".join(element.text_content().replace("¶", " ").split())


def symbols_for_entry(dl: etree._Element, dt: etree._Element, *, anchor: str
                      ) -> list[SymbolDraft]:
    """The symbols one ``dt`` documents (usually one; several for option aliases)."""
    kind = entry_kind(dl)
    dt_id = dt.get("id") or anchor
    if dt_id.upper().startswith("GUC-"):  # PostgreSQL: <dt id="GUC-WORK-MEM">work_mem (integer)
        name = next((flat(c) for c in dt.iter("code")
                     if "varname" in classes(c)), "") or flat(dt).split(" ")[0]
        return [SymbolDraft(name=name, kind="config")] if name else []
    if kind is None:
        return []
    domain, objtype = kind
    if domain == "py" and objtype in PY_KINDS:
        return _python_symbol(dt, dt_id, PY_KINDS[objtype])
    if domain in ("c", "cpp") and objtype in C_KINDS:
        name = _sig_name(dt)
        return [SymbolDraft(name=name, kind=C_KINDS[objtype], signature=_sig_tail(dt))] \
            if name else []
    if objtype in OPTION_KINDS:
        return _option_symbols(dt, dt_id)
    if objtype in CONFIG_KINDS:
        name = _sig_name(dt)
        return [SymbolDraft(name=name, kind="config")] if name else []
    return []


def _python_symbol(dt: etree._Element, dt_id: str, kind: str) -> list[SymbolDraft]:
    name = dt_id if _NAME_RE.match(dt_id or "") else _sig_name(dt)
    if not name or not _NAME_RE.match(name):
        return []
    params, var_kw = python_params(dt)
    return [SymbolDraft(name=name, kind=kind, params=params, signature=_sig_tail(dt),
                        var_keyword=var_kw)]


def python_params(dt: etree._Element) -> tuple[list[str] | None, bool]:
    """Names a Python signature accepts as keywords (None: no call signature), ``**kwargs``."""
    parens = [e for e in dt.iter() if "sig-paren" in classes(e)]
    params = [e for e in dt.iter("em") if "sig-param" in classes(e)]
    if not parens and not params:
        if "(" not in flat(dt):
            return None, False
        params = list(dt.iter("em"))  # older Sphinx: plain <em> inside literal parentheses
    names: list[str] = []
    var_kw = False
    for param in params:
        text = flat(param)
        if text == "/":  # everything before a bare slash is positional-only
            names = []
        elif text.startswith("**"):
            var_kw = True
        elif text.startswith("*"):
            continue  # *args, or the bare * before keyword-only parameters
        else:
            match = _PARAM_NAME_RE.match(text)
            if match and match.group(0) not in ("self", "cls"):
                names.append(match.group(0))
    return names, var_kw


def _sig_name(dt: etree._Element) -> str:
    prename = "".join(flat(e) for e in dt.iter() if "sig-prename" in classes(e)
                      and "descclassname" in classes(e) and e.tag != "code"
                      and not flat(e).startswith((",", " ")))
    names = [flat(e) for e in dt.iter() if "sig-name" in classes(e)]
    if not names:
        return ""
    name = names[0]
    return (prename + name) if prename.endswith(".") else name


def _sig_tail(dt: etree._Element) -> str:
    """The signature after the name, "(data, weights=None)", as the docs show it."""
    text = flat(dt)
    start = text.find("(")
    return text[start:].strip() if start != -1 else ""


def _option_symbols(dt: etree._Element, dt_id: str) -> list[SymbolDraft]:
    flags = [flat(e) for e in dt.iter() if "sig-name" in classes(e)] or [flat(dt)]
    flags = [f.split("=")[0].split(" ")[0] for f in flags if f]
    program = _option_program(dt_id, flags)
    out = []
    for flag in dict.fromkeys(flags):
        name = f"{program} {flag}" if program else flag
        out.append(SymbolDraft(name=name, kind="option"))
    return out


def _option_program(dt_id: str, flags: list[str]) -> str:
    """Sphinx ids are ``cmdoption-<program>-<flag>``; recover the program if there is one."""
    if not dt_id.startswith("cmdoption-") or not flags:
        return ""
    body = dt_id[len("cmdoption-"):]
    bare = flags[0].lstrip("-")
    if body == bare or not body.endswith("-" + bare):
        return ""
    return body[: -len(bare) - 1]


def manpage_options(term: str, program: str, prefixes: tuple[str, ...] = ()
                    ) -> list[SymbolDraft]:
    """Flags named by a manual page's OPTIONS term: ``-f, --force``, ``--[no-]verify``."""
    term = term.strip()
    if not term.startswith("-") or not program:
        return []
    expanded = term.replace("--[no-]", "--").replace("[no-]", "")
    flags = _FLAG_RE.findall(expanded)
    if "[no-]" in term:
        flags += ["--no-" + f[2:] for f in flags if f.startswith("--")]
    names = _program_names(program, prefixes)
    out = []
    for flag in dict.fromkeys(f.rstrip(".,") for f in flags):
        out.append(SymbolDraft(name=f"{names[0]} {flag}", kind="option",
                               aliases=[f"{n} {flag}" for n in names[1:]]))
    return out


def _program_names(program: str, prefixes: tuple[str, ...]) -> list[str]:
    """``git-push`` with prefix ``git`` → "git push" (as typed), "git-push", "git"."""
    for prefix in prefixes:
        if program.startswith(prefix + "-"):
            sub = program[len(prefix) + 1:]
            return [f"{prefix} {sub}", program, prefix]
    return [program]


def config_key(term: str) -> SymbolDraft | None:
    """A dotted configuration key documented as a definition term (``core.fileMode``)."""
    term = term.strip().rstrip(":")
    return SymbolDraft(name=term, kind="config") if _CONFIG_KEY_RE.match(term) else None


def symbol_notes(notes: list[VersionNote]) -> list[VersionNote]:
    """The notes about the object itself: a bare "New in version 3.7", a change, a removal,
    a deprecation that names no condition. "New in version 3.4: the *x* parameter" dates a
    part of the object, so it stays on the passage only."""
    out = []
    for note in notes:
        detail = _detail(note.text)
        if note.kind == "added" and detail:
            continue
        if note.kind == "deprecated" and detail and not _WHOLE_DEPRECATION_RE.match(detail):
            continue
        out.append(note)
    return out


def _detail(text: str) -> str:
    """What a note says after "New in version 3.7:"."""
    match = re.search(r"\d+(?:\.\d+)*\s*[.:]?\s*", text)
    return text[match.end():].strip() if match else text.strip()
