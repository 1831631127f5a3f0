"""Every error DocVouch raises on purpose, each carrying its HTTP status and problem type.

::

    DocVouchError (500, internal)
    ├── IndexError_ (503)
    │   ├── IndexMissingError      no index built yet at that place
    │   └── IndexCorruptError      manifest/checksum/shape mismatch: refused, never half-used
    ├── CorpusBuildError (500)     a source could not be turned into an index
    └── InputError (400)           the caller's input cannot be used
        └── InputTooLargeError (422)

The HTTP layer renders any of these as ``application/problem+json`` (RFC 9457) with
``type``, ``title``, ``status`` and ``detail``; the CLI prints ``detail`` on one line.
"""

from __future__ import annotations

from typing import ClassVar

PROBLEM_BASE = "https://docvouch.dev/problems/"


class DocVouchError(Exception):
    """Base class: an error with a status, a stable problem code and a human detail."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.code


class IndexError_(DocVouchError):  # noqa: N801 - trailing underscore: not the builtin
    status = 503
    code = "index_unavailable"
    title = "Index unavailable"


class IndexMissingError(IndexError_):
    code = "index_missing"
    title = "Index missing"


class IndexCorruptError(IndexError_):
    code = "index_corrupt"
    title = "Index corrupt"


class CorpusBuildError(DocVouchError):
    code = "corpus_build_failed"
    title = "Corpus build failed"


class InputError(DocVouchError):
    status = 400
    code = "invalid_input"
    title = "Invalid input"


class InputTooLargeError(InputError):
    status = 422
    code = "answer_too_long"
    title = "Answer too long"
