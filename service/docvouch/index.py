"""The index directory: BM25 build / save / load (mmap) / batched search, passages, symbols.

Layout of one index build (a directory, published atomically by ``store.py``)::

    manifest.json      format version, corpus, counts, build time, checksums
    bm25/              bm25s arrays (CSC score matrix, vocabulary, params)
    passages.bin       orjson records, concatenated
    passages.idx.npy   uint64 byte offsets into passages.bin (n + 1 entries)
    symbols.json       the symbol table, one record per documented name

Scores are Lucene-variant BM25 precomputed per (term, passage) by bm25s; a query batch is
one sparse matrix product against the memory-mapped score matrix, so a worker process
touches only the pages its queries need and several workers share them through the page
cache.
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing as mp
import os
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import orjson
import scipy.sparse as sp

try:  # the product kernel behind scipy's own ``@`` (see Index._product)
    from scipy.sparse._sparsetools import csr_matmat as _csr_matmat
except ImportError:  # pragma: no cover - a scipy that moved it: the public operator serves
    _csr_matmat = None

from docvouch.errors import IndexCorruptError, IndexMissingError
from docvouch.passages import Passage, Symbol
from docvouch.tokenizer import TOKEN_RE, TOKENIZER_VERSION, expand_token, tokenize

FORMAT_VERSION = 2
BM25_METHOD = "lucene"
BM25_K1 = 1.2
BM25_B = 0.75
CHECKSUMMED = ("passages.bin", "passages.idx.npy", "symbols.json", "doc_terms.ids.npy",
               "doc_terms.indptr.npy", "bm25/data.csc.index.npy",
               "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy",
               "bm25/vocab.index.json", "bm25/params.index.json")

Progress = Callable[[str], None]


def passage_terms(passage: Passage) -> list[str]:
    """What BM25 indexes for a passage: title (twice: it names the thing), text and code."""
    parts = [passage.title, passage.title, passage.text, *passage.code]
    return tokenize("\n".join(parts))


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage for one query."""

    passage: int
    bm25: float


def build_index(
    directory: Path,
    passages: Sequence[Passage],
    symbols: Sequence[Symbol],
    *,
    corpus: dict[str, Any],
    progress: Progress | None = None,
    dtype: str = "float32",
) -> dict[str, Any]:
    """Tokenise, score and write a complete index into the empty ``directory``.

    Returns the manifest. The caller publishes the directory (see ``store.publish``).
    """
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=False)
    vocab, doc_lengths, term_ids = _tokenise_corpus(passages, progress)
    tokenised_s = time.perf_counter() - started
    _write_bm25(directory / "bm25", vocab, doc_lengths, term_ids, dtype=dtype)
    del term_ids

    _write_passages(directory, passages)
    (directory / "symbols.json").write_bytes(orjson.dumps(list(symbols)))
    manifest = {
        "format_version": FORMAT_VERSION,
        "corpus": corpus,
        "counts": {"passages": len(passages), "symbols": len(symbols),
                   "vocabulary": len(vocab)},
        "bm25": {"method": BM25_METHOD, "k1": BM25_K1, "b": BM25_B, "dtype": dtype},
        "tokenizer": TOKENIZER_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": {"tokenise": round(tokenised_s, 3),
                          "total": round(time.perf_counter() - started, 3)},
        "checksums": {name: _sha256(directory / name) for name in CHECKSUMMED},
    }
    (directory / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    _fsync_tree(directory)
    return manifest


PARALLEL_MIN_PASSAGES = 40_000  # below this, forking costs more than it saves
_FORKED_PASSAGES: Sequence[Passage] = ()  # what forked tokeniser workers read (copy-on-write)


def _tokenise_corpus(passages: Sequence[Passage], progress: Progress | None
                     ) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Vocabulary, per-passage lengths and the flat term-id stream of the whole corpus.

    Large corpora are tokenised by one forked process per core, each over a contiguous
    slice with a vocabulary of its own; the slices' term ids are then mapped into one
    vocabulary with a vectorised look-up. Scores do not depend on term-id order.
    """
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else os.cpu_count() or 1, 8)
    if len(passages) < PARALLEL_MIN_PASSAGES or workers < 2 or \
            "fork" not in mp.get_all_start_methods():
        return _tokenise_slice(passages, progress)
    global _FORKED_PASSAGES
    _FORKED_PASSAGES = passages
    bounds = np.linspace(0, len(passages), workers * 2 + 1, dtype=np.int64)
    ranges = [(int(a), int(b)) for a, b in pairwise(bounds)]
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            parts = []
            for n, part in enumerate(pool.imap(_tokenise_range, ranges), 1):
                parts.append(part)
                if progress:
                    progress(f"tokenised {ranges[n - 1][1]:,}/{len(passages):,} passages")
    finally:
        _FORKED_PASSAGES = ()
    vocab: dict[str, int] = {}
    flats, lengths = [], []
    for local_vocab, local_flat, local_lengths in parts:
        remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in local_vocab),
                            dtype=np.int64, count=len(local_vocab))
        flats.append(remap[local_flat])
        lengths.append(local_lengths)
    return vocab, np.concatenate(lengths), np.concatenate(flats)


def _tokenise_range(bounds: tuple[int, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    vocab, lengths, flat = _tokenise_slice(_FORKED_PASSAGES[bounds[0]:bounds[1]], None)
    return list(vocab), flat, lengths  # dict order is id order


def _tokenise_slice(passages: Sequence[Passage], progress: Progress | None
                    ) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    vocab: dict[str, int] = {}
    ids_of_raw: dict[str, tuple[int, ...]] = {}  # documentation repeats its raw tokens
    flat = array("q")  # 8 bytes a term, not a Python int object each
    lengths = np.zeros(len(passages), dtype=np.int64)
    extend = flat.extend
    for i, passage in enumerate(passages):
        before = len(flat)
        text = "\n".join([passage.title, passage.title, passage.text, *passage.code])
        for raw in TOKEN_RE.findall(text):
            ids = ids_of_raw.get(raw)
            if ids is None:
                ids = tuple(vocab.setdefault(t, len(vocab)) for t in expand_token(raw))
                ids_of_raw[raw] = ids
            extend(ids)
        if len(flat) == before:  # an empty passage still counts as a document
            extend((vocab.setdefault("<empty>", len(vocab)),))
        lengths[i] = len(flat) - before
        if progress and i and i % 100_000 == 0:
            progress(f"tokenised {i:,}/{len(passages):,} passages")
    return vocab, lengths, np.frombuffer(flat, dtype=np.int64)


def _write_bm25(directory: Path, vocab: dict[str, int], doc_lengths: np.ndarray,
                term_ids: np.ndarray, *, dtype: str) -> None:
    """Lucene BM25 scores per (term, passage), saved in bm25s's own CSC layout.

    Vectorised with numpy (bm25s's indexer loops in Python); the files are exactly what
    ``bm25s.BM25.load`` reads, and tests compare the scores with rank-bm25's.
    """
    directory.mkdir()
    n_docs, n_vocab = len(doc_lengths), len(vocab)
    doc_of_token = np.repeat(np.arange(n_docs, dtype=np.int64), doc_lengths)
    # One key per (term, doc), sorted term-major: the CSC column order bm25s expects.
    keys, tf = np.unique(term_ids * n_docs + doc_of_token, return_counts=True)
    term, doc = np.divmod(keys, n_docs)
    df = np.bincount(term, minlength=n_vocab)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    avg_len = float(doc_lengths.mean()) if n_docs else 1.0
    norm = BM25_K1 * (1 - BM25_B + BM25_B * doc_lengths[doc] / avg_len)
    scores = (idf[term] * tf / (tf + norm)).astype(dtype)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(np.bincount(term, minlength=n_vocab), out=indptr[1:])
    _write_doc_terms(directory.parent, term, doc, n_docs)
    np.save(directory / "data.csc.index.npy", scores)
    np.save(directory / "indices.csc.index.npy", doc.astype(np.int32))
    np.save(directory / "indptr.csc.index.npy", indptr)
    (directory / "vocab.index.json").write_bytes(orjson.dumps(vocab))
    params = {"k1": BM25_K1, "b": BM25_B, "delta": 0.5, "method": BM25_METHOD,
              "idf_method": BM25_METHOD, "dtype": dtype, "int_dtype": "int32",
              "num_docs": n_docs, "version": bm25s.__version__, "backend": "numpy"}
    (directory / "params.index.json").write_bytes(orjson.dumps(params, option=orjson.OPT_INDENT_2))


def _write_doc_terms(directory: Path, term: np.ndarray, doc: np.ndarray, n_docs: int) -> None:
    """Each passage's distinct term ids (doc-major), so coverage never re-tokenises text."""
    order = np.argsort(doc, kind="stable")  # keys were term-major; stable keeps ids sorted
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=n_docs), out=indptr[1:])
    np.save(directory / "doc_terms.ids.npy", term[order].astype(np.int32))
    np.save(directory / "doc_terms.indptr.npy", indptr)


def _write_passages(directory: Path, passages: Iterable[Passage]) -> None:
    offsets = [0]
    with (directory / "passages.bin").open("wb") as fh:
        for passage in passages:
            blob = orjson.dumps(passage)  # orjson encodes dataclasses natively, ~50x asdict
            fh.write(blob)
            offsets.append(offsets[-1] + len(blob))
    np.save(directory / "passages.idx.npy", np.asarray(offsets, dtype=np.uint64))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(directory: Path) -> None:
    for root, _dirs, files in os.walk(directory):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# Entries the single-pass product may allocate for (8 bytes each); larger batches (answers
# of hundreds of claims on millions of passages) size their output exactly first.
_DIRECT_PRODUCT_MAX = 8_000_000
_TOP_K_SAMPLE = 16  # stride of the sample that bounds a row's k-th best score from below


class Index:
    """A loaded, read-only index: ranked search, passage access, the symbol records."""

    def __init__(self, directory: Path, *, verify_checksums: bool = True) -> None:
        self.directory = directory
        self.manifest = read_manifest(directory)
        if verify_checksums:
            self._verify_checksums()
        try:
            self._model = bm25s.BM25.load(str(directory / "bm25"), mmap=True, show_progress=False)
            # a plain ndarray view: indexing a np.memmap costs ~20 µs, an ndarray ~0.1 µs
            self._offsets = np.load(directory / "passages.idx.npy", mmap_mode="r").view(np.ndarray)
            # The mapping outlives the descriptor: nothing stays open but the pages.
            with (directory / "passages.bin").open("rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                self._blob = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) \
                    if size else b""
            raw_symbols = orjson.loads((directory / "symbols.json").read_bytes())
            self._doc_terms = np.load(directory / "doc_terms.ids.npy",
                                      mmap_mode="r").view(np.ndarray)
            self._doc_terms_ptr = np.load(directory / "doc_terms.indptr.npy",
                                          mmap_mode="r").view(np.ndarray)
        except (OSError, ValueError, KeyError, orjson.JSONDecodeError) as exc:
            raise IndexCorruptError(f"index at {directory} cannot be read: {exc}") from exc
        self.size = int(self.manifest["counts"]["passages"])
        if len(self._offsets) != self.size + 1 or int(self._offsets[-1]) != size:
            raise IndexCorruptError(f"index at {directory}: passage table does not match manifest")
        self.symbols = [Symbol.from_dict(raw) for raw in raw_symbols]
        if any(not 0 <= s.passage < self.size for s in self.symbols):
            raise IndexCorruptError(f"index at {directory}: a symbol points past the passages")
        self._vocab: dict[str, int] = self._model.vocab_dict
        scores = self._model.scores
        # The CSC (docs x vocab) arrays read as CSR (vocab x docs): zero copy, mmap-backed.
        self._matrix = sp.csr_matrix(
            (scores["data"], scores["indices"], scores["indptr"]),
            shape=(len(scores["indptr"]) - 1, scores["num_docs"]),
        )
        df = np.diff(np.asarray(scores["indptr"]))
        self.idf = np.log1p((self.size - df + 0.5) / (df + 0.5))
        self.max_idf = float(np.log1p((self.size + 0.5) / 0.5))  # a term no passage holds

    def _verify_checksums(self) -> None:
        expected = self.manifest.get("checksums", {})
        for name in CHECKSUMMED:
            path = self.directory / name
            if not path.is_file():
                raise IndexCorruptError(f"index at {self.directory} is missing {name}")
            if expected.get(name) != _sha256(path):
                raise IndexCorruptError(f"index at {self.directory}: {name} fails its checksum")

    @property
    def corpus(self) -> dict[str, Any]:
        return dict(self.manifest["corpus"])

    def passage(self, index: int) -> Passage:
        """Decode one passage (only the bytes of that record are touched)."""
        start, end = int(self._offsets[index]), int(self._offsets[index + 1])
        return Passage.from_dict(orjson.loads(self._blob[start:end]))

    def passage_term_ids(self, index: int) -> np.ndarray:
        """The distinct term ids of one passage, ascending (a view into the mapped file)."""
        return self._doc_terms[self._doc_terms_ptr[index]:self._doc_terms_ptr[index + 1]]

    def lookup(self, terms: Iterable[str]) -> list[int | None]:
        """Each term's id, None where the corpus lacks it."""
        get = self._vocab.get
        return [get(t) for t in terms]

    def term_ids(self, terms: Iterable[str]) -> list[int]:
        vocab = self._vocab
        return [vocab[t] for t in terms if t in vocab]

    def search_terms(self, queries: Sequence[Sequence[str]], *, k: int = 10) -> list[list[Hit]]:
        """Top-``k`` passages for each query (already tokenised), in one batched product."""
        if not queries:
            return []
        # The query matrix is built in CSR form directly (each row's term ids sorted and
        # counted): scipy's COO route costs a third of the product itself.
        indptr, cols, vals = [0], [], []
        for terms in queries:
            counts: dict[int, int] = {}
            for term_id in self.term_ids(terms):
                counts[term_id] = counts.get(term_id, 0) + 1
            for term_id in sorted(counts):
                cols.append(term_id)
                vals.append(counts[term_id])
            indptr.append(len(cols))
        # the matrix's own dtypes: the kernel would otherwise convert (copy) the whole matrix
        index_dtype = self._matrix.indices.dtype
        scores = self._product(np.asarray(indptr, dtype=index_dtype),
                               np.asarray(cols, dtype=index_dtype),
                               np.asarray(vals, dtype=self._matrix.dtype))
        return [self._top_k(*scores, row, k) for row in range(len(queries))]

    def _product(self, indptr: np.ndarray, cols: np.ndarray, vals: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The query rows times the term-by-passage matrix, as CSR arrays.

        scipy's ``@`` first runs a whole counting pass over the postings to size its output,
        then the product: a quarter of the search. The sum of the query terms' posting
        lengths bounds the output as well, for free, so when that bound is modest the same
        kernel runs once into arrays of that size.
        """
        matrix = self._matrix
        rows, n_docs = len(indptr) - 1, matrix.shape[1]
        bound = int((matrix.indptr[cols + 1] - matrix.indptr[cols]).sum(dtype=np.int64))
        if _csr_matmat is None or bound > _DIRECT_PRODUCT_MAX:
            query_matrix = sp.csr_matrix((vals, cols, indptr), shape=(rows, matrix.shape[0]))
            scores = (query_matrix @ matrix).tocsr()
            return scores.indptr, scores.indices, scores.data
        out_indptr = np.empty(rows + 1, dtype=matrix.indices.dtype)
        out_docs = np.empty(bound, dtype=matrix.indices.dtype)
        out_scores = np.empty(bound, dtype=matrix.dtype)
        _csr_matmat(rows, n_docs, indptr, cols, vals, matrix.indptr, matrix.indices,
                    matrix.data, out_indptr, out_docs, out_scores)
        return out_indptr, out_docs, out_scores

    @staticmethod
    def _top_k(indptr: np.ndarray, docs: np.ndarray, scores: np.ndarray, row: int, k: int
               ) -> list[Hit]:
        """The ``k`` best passages of one row of a CSR score matrix: score descending, then
        passage id (so of passages tied at the cut, the lowest ids are kept)."""
        start, end = int(indptr[row]), int(indptr[row + 1])
        if start == end:
            return []
        docs = docs[start:end]
        vals = scores[start:end]
        if end - start > 4 * _TOP_K_SAMPLE * k:
            # The k-th best score of a strided sample is at most the row's k-th best, so
            # every top-k passage scores at least that: a comparison pass leaves a few
            # hundred to sort instead of partitioning tens of thousands.
            sample = vals[::_TOP_K_SAMPLE].copy()
            sample.partition(len(sample) - k)
            kept = vals >= sample[len(sample) - k]
            docs, vals = docs[kept], vals[kept]
        order = np.lexsort((docs, -vals))[:k]  # score desc, then passage id for stable ties
        # whole-array conversions: a Python int and float per element read from numpy
        # scalars cost several times more
        top = zip(docs[order].tolist(), vals[order].tolist(), strict=True)
        return [Hit(doc, score) for doc, score in top if score > 0]

    def search(self, query: str, *, k: int = 10) -> list[Hit]:
        """Top-``k`` passages for a free-text query."""
        return self.search_terms([tokenize(query)], k=k)[0]

    def scores_for(self, terms: Sequence[str]) -> np.ndarray:
        """Dense BM25 scores of every passage (tests compare this with rank-bm25)."""
        ids = self.term_ids(terms)
        if not ids:
            return np.zeros(self.size, dtype=np.float64)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float64)

    def close(self) -> None:
        if isinstance(self._blob, mmap.mmap):
            self._blob.close()


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an index directory, validated; clear errors when it is not one."""
    path = directory / "manifest.json"
    if not directory.is_dir():
        raise IndexMissingError(f"no index at {directory}")
    try:
        manifest = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index at {directory} has no manifest.json") from exc
    except (OSError, orjson.JSONDecodeError) as exc:
        raise IndexCorruptError(f"index at {directory}: manifest.json is unreadable") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {directory} has format {manifest.get('format_version')!r}, "
            f"this DocVouch reads {FORMAT_VERSION}; rebuild it"
            if isinstance(manifest, dict) else f"index at {directory}: manifest is not an object"
        )
    if manifest.get("tokenizer") != TOKENIZER_VERSION:
        raise IndexCorruptError(
            f"index at {directory} was built with tokenizer v{manifest.get('tokenizer')}, this "
            f"DocVouch tokenizes with v{TOKENIZER_VERSION}; rebuild it")
    return manifest
