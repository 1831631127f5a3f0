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


class IndexError_(DocVouchError):
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


# --- HTTP-layer errors (the service's own; the classes above are the engine's) ---------
#
#   DocVouchError
#   ├── InputError (400)
#   │   ├── InvalidJSONError (400)          not JSON, not UTF-8, or nested too deep
#   │   ├── BodyEncodingError (400)         a compressed body that does not decompress
#   │   ├── BodyTimeoutError (408)          the body did not arrive within the deadline
#   │   ├── SchemaError (422)               valid JSON that breaks the schema; names the field
#   │   │   └── UnknownCorpusError (422)    options.corpus names no loaded corpus
#   │   ├── PayloadTooLargeError (413)
#   │   └── UnsupportedMediaTypeError (415)
#   ├── UnauthorizedError (401)             no key, or not a valid one
#   ├── ForbiddenError (403)                a valid key without the right, or a foreign origin
#   ├── NotFoundError (404) / MethodNotAllowedError (405)
#   ├── OverloadedError (503)               the wait queue is full; carries Retry-After
#   ├── NotReadyError (503)                 indexes still loading, or failed to load
#   ├── WorkerLostError (503)               the worker process died during the request
#   ├── DeadlineExceededError (504)         no result within request_deadline_s
#   └── WorkerStartError (503)              a worker exited or hung while starting


class InvalidJSONError(InputError):
    code = "invalid_json"
    title = "Invalid JSON"


class BodyEncodingError(InputError):
    """A body whose ``Content-Encoding`` says gzip (say) but whose bytes do not decode."""

    code = "invalid_encoding"
    title = "Invalid content encoding"


class BodyTimeoutError(InputError):
    """The client did not send its whole body before the request's deadline (slow or stalled)."""

    status = 408
    code = "request_timeout"
    title = "Request timeout"


class SchemaError(InputError):
    """A JSON body or query parameter that breaks the schema; ``field`` names which one."""

    status = 422
    code = "invalid_field"
    title = "Invalid field"

    def __init__(self, field: str, detail: str, **extra: object) -> None:
        super().__init__(f"{field}: {detail}", field=field, **extra)
        self.field = field


class UnknownCorpusError(SchemaError):
    code = "unknown_corpus"
    title = "Unknown corpus"


class PayloadTooLargeError(InputError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaTypeError(InputError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class UnauthorizedError(DocVouchError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class ForbiddenError(DocVouchError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFoundError(DocVouchError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowedError(DocVouchError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class OverloadedError(DocVouchError):
    """Too many requests are waiting; ``retry_after_s`` says when to try again."""

    status = 503
    code = "overloaded"
    title = "Service overloaded"

    def __init__(self, detail: str, *, retry_after_s: int, **extra: object) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extra)
        self.retry_after_s = retry_after_s


class NotReadyError(OverloadedError):
    code = "not_ready"
    title = "Not ready"


class WorkerLostError(OverloadedError):
    code = "worker_lost"
    title = "Worker lost"


class DeadlineExceededError(DocVouchError):
    status = 504
    code = "deadline_exceeded"
    title = "Deadline exceeded"


class WorkerStartError(DocVouchError):
    """A worker process exited or hung before it had mapped the indexes."""

    status = 503
    code = "worker_start_failed"
    title = "Worker start failed"
