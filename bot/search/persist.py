"""Saving the index beside the database and loading it back only when it provably fits.

Layout in `index_dir`: `manifest.json` (small, written last) names one data file
`segments-<random>.npz` (plain numpy arrays: every segment, the document frequencies, the
vocabulary as one UTF-8 blob) with its size and CRC-32. Both are written to a temporary
file and moved into place with os.replace, so a reader sees a complete old or a complete new
index, never half of one, even with several processes sharing the directory.

`load` refuses (raises StaleIndex with the reason) when anything does not fit: no or
unreadable manifest, another format/tokenizer/title weight, another database (instance id),
a data file that is missing, truncated or garbled (size, CRC, zip member CRCs, array
consistency). The engine then rebuilds from the database; it also rejects an index whose rev
is ahead of the database or whose paper count disagrees after catching up.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bot.search.index import BM25Index
from bot.search.segments import Segment
from bot.search.snapshot import Snapshot
from bot.search.tokenizer import TOKENIZER_VERSION

FORMAT = 2  # 2: per-document fingerprints
MANIFEST = "manifest.json"
_FIELDS = (
    "paper_ids",
    "doc_len",
    "published",
    "source",
    "fingerprints",
    "indptr",
    "indices",
    "tf",
    "alive",
)
_ORPHAN_AGE_S = 120  # data files this old and not in the manifest are removed


class StaleIndex(Exception):
    """The persisted index cannot be used; str() says why (for the log)."""


@dataclass(frozen=True)
class Manifest:
    format: int
    tokenizer_version: int
    title_weight: int
    db_instance_id: str
    rev: int
    n_docs: int
    n_segments: int
    data_file: str
    size: int
    crc32: int
    saved_at: float


def _crc32(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def _write_atomic(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def save(
    state: tuple[list[str], list[str], Snapshot],
    directory: Path,
    *,
    db_instance_id: str,
    rev: int,
    title_weight: int,
    tokenizer_version: int = TOKENIZER_VERSION,
) -> Manifest:
    """Write `BM25Index.state()` (taken under the write lock, together with `rev`)."""
    directory.mkdir(parents=True, exist_ok=True)
    terms, sources, snap = state
    arrays: dict[str, np.ndarray] = {
        "df": snap.df,
        "terms": np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8),
        "sources": np.frombuffer("\n".join(sources).encode("utf-8"), dtype=np.uint8),
        "counts": np.array([len(terms), len(sources)], dtype=np.int64),
    }
    for i, seg in enumerate(snap.segments):
        for name in _FIELDS:
            arrays[f"s{i}_{name}"] = getattr(seg, name)
    data = directory / f"segments-{uuid.uuid4().hex[:16]}.npz"
    _write_atomic(data, lambda f: np.savez(f, **arrays))
    manifest = Manifest(
        format=FORMAT,
        tokenizer_version=tokenizer_version,
        title_weight=title_weight,
        db_instance_id=db_instance_id,
        rev=rev,
        n_docs=snap.n_docs,
        n_segments=len(snap.segments),
        data_file=data.name,
        size=data.stat().st_size,
        crc32=_crc32(data),
        saved_at=time.time(),
    )
    body = json.dumps(asdict(manifest), indent=1).encode()
    _write_atomic(directory / MANIFEST, lambda f: f.write(body))
    _remove_orphans(directory, keep=data.name)
    return manifest


def _remove_orphans(directory: Path, keep: str) -> None:
    now = time.time()
    for p in directory.glob("segments-*.npz"):
        with contextlib.suppress(OSError):
            if p.name != keep and now - p.stat().st_mtime > _ORPHAN_AGE_S:
                p.unlink()


def read_manifest(directory: Path) -> Manifest:
    try:
        raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return Manifest(**raw)
    except FileNotFoundError:
        raise StaleIndex("no saved index") from None
    except (OSError, ValueError, TypeError) as exc:
        raise StaleIndex(f"unreadable manifest ({exc})") from None


def load(
    directory: Path,
    *,
    db_instance_id: str,
    title_weight: int,
    tokenizer_version: int = TOKENIZER_VERSION,
) -> tuple[BM25Index, Manifest]:
    """The saved index if it fits this database and code; StaleIndex otherwise."""
    m = read_manifest(directory)
    if m.format != FORMAT:
        raise StaleIndex(f"format {m.format}, expected {FORMAT}")
    if m.tokenizer_version != tokenizer_version:
        raise StaleIndex(f"tokenizer version {m.tokenizer_version}, now {tokenizer_version}")
    if m.title_weight != title_weight:
        raise StaleIndex(f"title weight {m.title_weight}, now {title_weight}")
    if m.db_instance_id != db_instance_id:
        raise StaleIndex("saved for another database")
    data = directory / Path(m.data_file).name
    try:
        if data.stat().st_size != m.size:
            raise StaleIndex("data file size differs (truncated?)")
        if _crc32(data) != m.crc32:
            raise StaleIndex("data file checksum differs (corrupt)")
        with np.load(data, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        n_terms, n_sources = (int(x) for x in arrays["counts"])
        terms = arrays["terms"].tobytes().decode("utf-8").split("\n") if n_terms else []
        sources = arrays["sources"].tobytes().decode("utf-8").split("\n") if n_sources else []
        if len(terms) != n_terms or len(sources) != n_sources:
            raise StaleIndex("vocabulary blob does not split into the saved count")
        segments = [
            Segment(**{name: arrays[f"s{i}_{name}"] for name in _FIELDS})
            for i in range(m.n_segments)
        ]
        index = BM25Index.from_state(terms, sources, segments, arrays["df"])
    except StaleIndex:
        raise
    except Exception as exc:  # any unreadable/garbled content means: rebuild
        raise StaleIndex(f"unreadable data file ({type(exc).__name__}: {exc})") from None
    if len(index) != m.n_docs:
        raise StaleIndex(f"holds {len(index)} papers, manifest says {m.n_docs}")
    return index, m
