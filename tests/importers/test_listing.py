"""The plain-text listing parser on real excerpts of the team's seed files and broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.importers.listing import is_header_line, looks_like_abstract, parse_listing

ABSTRACT = (
    "We present a method that learns sparse attention patterns from data and show that "
    "it matches dense attention on long-context benchmarks while using far less memory."
)


def write(tmp_path: Path, text: str, name: str = "listing.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_subscribe_glued_to_the_first_title(data: Path) -> None:
    items = list(parse_listing(data / "listing_subscribe_glued.txt"))
    assert [i.error for i in items] == [None] * 4
    titles = [i.record.title for i in items]
    assert titles == [
        "Scaling Properties of Diffusion Models for Perceptual Tasks",
        "Fast and Accurate Network Embeddings via Very Sparse Random Projection",
        "Cooperative Graph Neural Networks",
        "Scaling Latent Reasoning via Looped Language Models",
    ]
    assert [i.line for i in items] == [3, 5, 7, 9]
    first = items[0].record
    assert first.source == "listing" and first.arxiv_id is None
    assert first.abstract.startswith("In this paper, we argue that iterative computation")


def test_daily_papers_header_with_blank_lines(data: Path) -> None:
    items = list(parse_listing(data / "listing_daily_papers.txt"))
    assert [(i.line, i.record.title) for i in items] == [
        (13, "Thyme: Think Beyond Images"),
        (17, "ADEM-VL: Adaptive and Embedded Fusion for Efficient Vision-Language Tuning"),
    ]
    assert items[0].record.abstract.startswith("Following OpenAI's introduction")


def test_concatenated_pages(tmp_path: Path, data: Path) -> None:
    both = (data / "listing_subscribe_glued.txt").read_text() + (
        data / "listing_subscribe_glued.txt"
    ).read_text().replace("Scaling Properties", "Different Properties")
    items = list(parse_listing(write(tmp_path, both)))
    assert [i.error for i in items] == [None] * 8
    assert items[4].line == 13
    assert items[4].record.title == "Different Properties of Diffusion Models for Perceptual Tasks"


def test_title_at_end_of_file_has_no_abstract(tmp_path: Path) -> None:
    path = write(tmp_path, f"Subscribe\nSparse Attention Works\n{ABSTRACT}\nA Dangling Title\n")
    items = list(parse_listing(path))
    assert items[0].record.title == "Sparse Attention Works"
    assert items[1].line == 4 and items[1].record is None
    assert "title with no abstract at the end of the file" in items[1].error
    assert "A Dangling Title" in items[1].error


def test_two_titles_in_a_row_reports_the_first(tmp_path: Path) -> None:
    text = f"First Paper\n{ABSTRACT}\n\nLost Its Abstract\n\nThird Paper Title\n{ABSTRACT}\n"
    items = list(parse_listing(write(tmp_path, text)))
    assert [(i.line, i.error is None) for i in items] == [(1, True), (4, False), (6, True)]
    assert "title with no abstract" in items[1].error
    assert items[2].record.title == "Third Paper Title"  # resynchronised after the error


def test_abstract_where_a_title_belongs(tmp_path: Path) -> None:
    text = f"A Title\n{ABSTRACT}\n{ABSTRACT} {ABSTRACT} {ABSTRACT}\n"
    items = list(parse_listing(write(tmp_path, text)))
    assert items[1].line == 3
    assert "expected a title" in items[1].error


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Good Title\n" + ABSTRACT.encode() + b"\nBad \xff\xfe Title\n"
                     + ABSTRACT.encode() + b"\n")
    items = list(parse_listing(path))
    assert items[0].error is None
    assert items[1].line == 3 and "invalid UTF-8 (byte 0xff at column 5)" in items[1].error
    assert [i.line for i in items] == [1, 3]  # the next line, its abstract, is dropped with it


def test_invalid_utf8_in_an_abstract_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"A Title\n" + ABSTRACT.encode()[:20] + b"\xe9" + ABSTRACT.encode()[20:]
                     + b"\nNext Title\n" + ABSTRACT.encode() + b"\n")
    items = list(parse_listing(path))
    assert items[0].line == 2
    assert items[0].error.startswith("invalid UTF-8 (byte 0xe9 at column 21)")
    assert "the abstract of 'A Title'" in items[0].error
    assert items[1].record.title == "Next Title"


def test_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes(("\ufeffSubscribe\r\nA Windows Title\r\n" + ABSTRACT + "\r\n").encode())
    (item,) = parse_listing(path)
    assert item.record.title == "A Windows Title" and item.line == 2


def test_header_only_listing_is_an_error(tmp_path: Path) -> None:
    (item,) = parse_listing(write(tmp_path, "new\n\nSubscribe\nDaily Papers\nAug 19\n"))
    assert item.line == 0 and "no papers in this listing" in item.error


@pytest.mark.parametrize(
    "line", ["Subscribe", "new", "Daily Papers", "byAK and the research community", "Aug 19",
             "Get trending papers in your email inbox once a day!"],
)
def test_header_lines(line: str) -> None:
    assert is_header_line(line)


def test_titles_do_not_look_like_abstracts() -> None:
    assert not looks_like_abstract(
        "Image Quality, Uniformity and Computation Improvement of Compressive Light Field "
        "Displays with U-Net"
    )
    assert not looks_like_abstract("LLMs Can Plan Only If We Tell Them")
    assert looks_like_abstract(ABSTRACT)
