"""HF daily-papers and arXiv snapshot mapping, JSON streaming and format detection."""

from __future__ import annotations

import copy
import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest

from bot.importers import source
from bot.importers.arxiv import arxiv_entry_to_record, parse_arxiv
from bot.importers.detect import detect_format
from bot.importers.errors import ImportFailed, RecordError
from bot.importers.hf import hf_entry_to_record, parse_hf
from bot.importers.listing import parse_listing
from bot.importers.source import Source, iter_json_array


@pytest.fixture
def hf_entries(data: Path) -> list[dict]:
    return json.loads((data / "hf_daily_papers.json").read_text(encoding="utf-8"))


def test_hf_entry_mapping(hf_entries: list[dict]) -> None:
    rec = hf_entry_to_record(hf_entries[0])
    assert rec.source == "hf"
    assert rec.arxiv_id == "2411.08034"
    assert rec.title == "Scaling Properties of Diffusion Models for Perceptual Tasks"
    assert "\n" not in rec.abstract and rec.abstract.startswith("In this paper")
    assert rec.authors[:2] == ("Rahul Ravishankar", "Zeeshan Patel") and len(rec.authors) == 4
    assert rec.published == date(2024, 11, 12)
    assert rec.upvotes == 12
    assert rec.url == "https://huggingface.co/papers/2411.08034"
    assert rec.pdf_url == "https://arxiv.org/pdf/2411.08034"
    assert rec.code_url.startswith("https://github.com/scaling-diffusion-perception")
    assert hf_entry_to_record(hf_entries[2]).code_url is None  # no githubRepo


def _bad(entries: list[dict], path: str, value: object) -> dict:
    entry = copy.deepcopy(entries[0])
    *parents, last = path.split(".")
    target = entry
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return entry


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("paper.title", 42, "paper.title must be a string, got a number"),
        ("paper.authors", "Rahul Ravishankar", "paper.authors must be a list, got a string"),
        ("paper.upvotes", "many", "paper.upvotes must be a whole number, got a string 'many'"),
        ("paper.upvotes", True, "paper.upvotes must be a whole number"),
        ("paper.id", "not-an-id", "paper.id is not an arXiv id"),
        ("paper.id", KeyError, "paper.id is missing"),
        ("paper.publishedAt", "yesterday", "publishedAt is not an ISO date"),
        ("paper", [], "paper must be an object, got a list"),
    ],
)
def test_hf_bad_entries(hf_entries: list[dict], path: str, value: object, message: str) -> None:
    with pytest.raises(RecordError, match=re.escape(message)):
        hf_entry_to_record(_bad(hf_entries, path, value))


def test_hf_title_falls_back_to_the_entry_title(hf_entries: list[dict]) -> None:
    entry = _bad(hf_entries, "paper.title", KeyError)
    assert hf_entry_to_record(entry).title.startswith("Scaling Properties")
    del entry["title"]
    with pytest.raises(RecordError, match=re.escape("paper.title is missing")):
        hf_entry_to_record(entry)


def test_hf_array_and_jsonl_give_the_same_records(data: Path) -> None:
    array = [i.record for i in parse_hf(data / "hf_daily_papers.json")]
    lines = list(parse_hf(data / "hf_daily_papers.jsonl"))
    assert [i.line for i in lines] == [1, 2, 3]
    assert array == [i.record for i in lines] and len(array) == 3


def test_arxiv_snapshot_mapping(data: Path) -> None:
    items = list(parse_arxiv(data / "arxiv_snapshot.jsonl"))
    assert [i.error for i in items] == [None, None, None]
    a, b, c = (i.record for i in items)
    assert a.source == "arxiv" and a.arxiv_id == "0704.0001"
    assert a.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert a.abstract.startswith("A fully differential calculation") and "\n" not in a.abstract
    assert a.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert a.published == date(2007, 4, 2)  # v1 created, not update_date
    assert a.categories == "hep-ph"
    assert a.links()["url"] == "https://arxiv.org/abs/0704.0001"
    assert b.arxiv_id == "math/0406123" and b.title == "On the cohomology of certain moduli spaces"
    assert "  " not in b.abstract
    assert c.published == date(2023, 5, 1)  # no versions: update_date
    assert c.authors == ("S. Roe", "T. Poe")  # from the authors string


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", 3.14, "title must be a string, got a number"),
        ("abstract", None, "abstract is missing"),
        ("authors_parsed", "One, A.", "authors_parsed must be a list"),
        ("versions", {"v1": "x"}, "versions must be a list"),
        ("id", 704.0001, "id must be a string"),
        ("update_date", "13/11/2008", None),  # v1 date present: update_date not needed
    ],
)
def test_arxiv_bad_entries(data: Path, field: str, value: object, message: str | None) -> None:
    entry = json.loads((data / "arxiv_snapshot.jsonl").read_text().splitlines()[0])
    entry[field] = value
    if message is None:
        assert arxiv_entry_to_record(entry).published == date(2007, 4, 2)
        return
    with pytest.raises(RecordError, match=re.escape(message)):
        arxiv_entry_to_record(entry)


def test_jsonl_truncated_and_invalid_lines(tmp_path: Path, data: Path) -> None:
    good = (data / "arxiv_snapshot.jsonl").read_text().splitlines()
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join([good[0], "", good[1][:80], "{not json}", good[2]]) + "\n")
    items = list(parse_arxiv(path))
    assert [(i.line, i.error is None) for i in items] == [
        (1, True), (3, False), (4, False), (5, True)
    ]
    assert items[1].error.startswith("truncated JSON (")
    assert items[2].error.startswith("invalid JSON (")


def test_json_array_streams_across_chunk_boundaries(
    tmp_path: Path, hf_entries: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "CHUNK", 50)  # force every entry to span many pieces
    entries = [copy.deepcopy(hf_entries[i % 3]) for i in range(30)]
    for n, e in enumerate(entries):
        e["paper"]["id"] = f"2501.{n:05d}"
    path = tmp_path / "daily.json"
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")
    with Source(path) as src:
        got = list(iter_json_array(src))
    assert [v["paper"]["id"] for _, v in got] == [e["paper"]["id"] for e in entries]
    text = path.read_text()
    starts = [text.count("\n", 0, text.index(f'"2501.{n:05d}"')) for n in range(30)]
    # Each entry is reported at the line of its opening brace, a few lines above its id.
    assert all(0 < s - line < 5 for (line, _), s in zip(got, starts, strict=True))


def test_truncated_json_array_names_the_line(tmp_path: Path, data: Path) -> None:
    text = json.dumps(json.loads((data / "hf_daily_papers.json").read_text()), indent=1)
    path = tmp_path / "daily.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    items = list(parse_hf(path))
    assert [i.error is None for i in items][:-1] == [True] * (len(items) - 1)
    last = items[-1]
    assert last.error.startswith("truncated JSON") and "rest of the file was not read" in last.error
    assert last.line > 1


def test_an_overlong_line_is_refused_not_loaded(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "MAX_LINE_BYTES", 1024)
    items = list(parse_hf(data / "hf_daily_papers.json"))  # one minified 4 KB line
    assert len(items) == 1 and items[0].line == 1
    assert "line longer than" in items[0].error and "JSON Lines" in items[0].error
    with pytest.raises(ImportFailed, match=r"listing_daily_papers\.txt line 15: line longer than"):
        list(parse_listing(data / "listing_daily_papers.txt"))  # its first abstract is 1.9 KB


def test_gzip_input(tmp_path: Path, data: Path) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(gzip.compress((data / "arxiv_snapshot.jsonl").read_bytes()))
    with Source(path) as src:
        assert detect_format(src) == "arxiv"
        assert len(list(parse_arxiv(src))) == 3


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("listing_subscribe_glued.txt", None, "listing"),
        ("hf_daily_papers.json", None, "hf"),
        ("hf_daily_papers.jsonl", None, "hf"),
        ("arxiv_snapshot.jsonl", None, "arxiv"),
        ("empty.json", b"[]", "hf"),
        ("re.txt", b"[Re] Reproducing Sparse Attention\n" + b"We reproduce x. " * 20, "listing"),
        ("empty.txt", b"  \n\n", "empty file"),
        ("keys.jsonl", b'{"name": "x", "size": 3}\n', "unknown format: JSON entries with keys"),
        ("blob.bin", b"\x89PNG\r\n\x1a\n\x00\x00", "unknown format: binary data"),
    ],
)
def test_detect_format(
    tmp_path: Path, data: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = data / name
    if content is not None:
        path = tmp_path / name
        path.write_bytes(content)
    with Source(path) as src:
        if expected in ("listing", "hf", "arxiv"):
            assert detect_format(src) == expected
            assert src.lines_read == 0  # detection rewinds
        else:
            with pytest.raises(ImportFailed, match=expected):
                detect_format(src)


def test_forced_json_format_on_text_is_refused(data: Path) -> None:
    with Source(data / "listing_daily_papers.txt") as src, pytest.raises(
        ImportFailed, match="--format hf needs a JSON array or JSON Lines"
    ):
        detect_format(src, "hf")
