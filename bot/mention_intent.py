"""Whether an @mention asks for papers, or is conversation ("thanks!", "can you come to the
meeting?"). A mention's answer is visible to the whole channel, so only a query is searched;
anything else gets a short help reply (bot/blocks.mention_help_message).

The rule, as the help text states it: a mention is searched when, without the mention,
stop words and small talk (greetings, thanks, "ok", emoji), some word is left, unless it is
a question to a person ("can you …", "are you …", "do you …") that does not ask to find,
search or show papers.
"""

from __future__ import annotations

import re

from bot.search.stopwords import STOPWORDS


def _words(text: str) -> list[str]:
    return text.split()


SMALL_TALK = frozenset(_words("""
    hi hii hello hey heya hiya yo howdy sup gm gn morning afternoon evening night good day
    thanks thank thx ty tysm thankyou cheers appreciated appreciate much lot kudos
    please pls plz ok okay k kk cool nice great awesome perfect sweet neat wow yay
    yes yeah yep yup sure no nope nah np sorry oops lol haha hahaha bye goodbye ciao later
    welcome there everyone everybody folks team guys all again well done job love ping
    paperbot bot
"""))
# A second-person question or request: to a colleague, not to a search box.
_TO_A_PERSON = re.compile(
    r"^(?:hey\s+|hi\s+|so\s+|and\s+)?(?:can|could|would|will|wanna|do|did|are|have|were|"
    r"shall|should)\s+(?:you|u|ya|we)\b|^(?:you|u)\s+(?:there|around|free|coming|up|ok|okay)\b",
    re.IGNORECASE,
)
ASKS_FOR_PAPERS = frozenset(_words("""
    find search look lookup show recommend recommendation recommendations suggest paper papers
    arxiv research literature related similar work works pull fetch get list anything
    something
"""))
_WORD = re.compile(r"\w+")
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']+:")


def is_query(text: str) -> bool:
    """Whether a mention's words (mention tokens already removed) ask for a search."""
    text = _EMOJI_CODE.sub(" ", text)
    words = [w.lower() for w in _WORD.findall(text)]
    content = [w for w in words if w not in STOPWORDS and w not in SMALL_TALK]
    if not content:
        return False
    to_a_person = _TO_A_PERSON.search(text.strip()) is not None
    return not to_a_person or bool(ASKS_FOR_PAPERS.intersection(words))
