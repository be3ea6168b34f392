"""arXiv category names are checked against arXiv's taxonomy where they are typed: the
subscribe command, `paperbot fetch-arxiv --category` and PAPERBOT_ARXIV_CATEGORIES."""

from __future__ import annotations

import pytest

from bot.config import Config, ConfigError
from bot.sources.taxonomy import CATEGORIES, UnknownCategory, category


def test_real_names_come_back_as_arxiv_writes_them() -> None:
    assert category("cs.cl") == "cs.CL"
    assert category(" Quant-Ph ") == "quant-ph"
    assert category("cond-mat.MES-HALL") == "cond-mat.mes-hall"
    assert category("math") == "math" and category("stat.ML") == "stat.ML"
    assert {"cs.LG", "eess.AS", "physics.optics", "q-bio.NC", "hep-th"} <= CATEGORIES


@pytest.mark.parametrize("word", ["cs.XX", "cs.CLL", "foo.BAR", "cs.", "hep-th.CL", "chao-dyn"])
def test_names_arxiv_does_not_have_are_refused(word: str) -> None:
    with pytest.raises(UnknownCategory, match="is not an arXiv category"):
        category(word)


def test_a_typo_gets_the_nearest_names() -> None:
    with pytest.raises(UnknownCategory, match=r"did you mean .*cs\.CL"):
        category("cs.CLL")


def test_the_environment_is_checked_at_start_up() -> None:
    cfg = Config.from_env({"PAPERBOT_ARXIV_CATEGORIES": "cs.cl, cs.LG,cs.CL"})
    assert cfg.arxiv_categories == ("cs.CL", "cs.LG")
    with pytest.raises(ConfigError, match=r"PAPERBOT_ARXIV_CATEGORIES.*“cs\.XX” is not"):
        Config.from_env({"PAPERBOT_ARXIV_CATEGORIES": "cs.CL,cs.XX"})
