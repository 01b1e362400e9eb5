"""Heavily edited wire copies for the near-duplicate dev set, one edit kind at a time.

:func:`transform.wirecopy.wire_copy` makes the light copies most outlets publish. These are
the hard ones that still are copies (and one that is partly not):

  cut       only the first 25-50 % of the paragraphs kept
  padded    the whole story wrapped in the outlet's own material (a standfirst, a related-
            coverage block, reader comments, an about-us paragraph): 150-500 % more
            words, a standfirst and a related-coverage block above the story and the rest
            below, in lines the boilerplate filter keeps
  lede      a new opening paragraph written by the outlet, the first two paragraphs
            swapped, and the end cut to 70-95 %
  trim      30-45 % of the sentences dropped throughout
  reword    house style: 2 in 3 occurrences of common news words replaced
  mixed     cut to 60-85 %, house style on 1 in 4 words, then padded with 10-25 % more
            words of the outlet's material
  cutpad    cut to 50-80 % AND padded with 50-150 % more words: neither text holds more
            than about half of the other. Beyond what overlap can tell from a same-event
            rewrite that keeps the wire's opening (ECB+ has those): reported, not a target
  followup  80-100 % of the story followed by the last sentences of ANOTHER story of
            the same section reused as background (at most 30 % of that story and a
            quarter of the follow-up): a copy of the first story, not of the second

Every added string is invented here; texts are read at run time (seeded: reproducible).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import timedelta

from transform.wirecopy import OUTLETS, DevArticle, _paragraphs

KINDS = ("cut", "padded", "lede", "trim", "reword", "mixed", "followup", "cutpad")
BEYOND = ("cutpad",)  # reported apart from the heavy kinds

_STANDFIRST = (
    "In this report our correspondents look at what happened, who is affected and what "
    "could come next, with reaction from readers across the region and beyond.",
    "Here is everything we know so far, updated throughout the day as our newsroom "
    "gathers more details from the people involved and from official sources.",
    "The {outlet} has been following the story since the first reports came in, and this "
    "page brings together the latest developments in one place for our readers.",
)
_RELATED = (
    "More on this topic from the {outlet} newsroom this week",
    "Five things to watch in the markets before the weekend",
    "Opinion: why the council's budget plans deserve a second look",
    "Weather warning issued for coastal towns as storm approaches",
    "Local school wins national award for its community garden project",
    "Review: a quiet, clever thriller that rewards patient viewers",
    "How rising rents are reshaping the high street in small towns",
    "Travel disruption expected as engineering works close the main line",
)
_COMMENTS = (
    "{name} wrote: I have been following this for months and nobody seems to have a plan.",
    "{name} wrote: Good piece, but what about the people who actually have to live with it?",
    "{name} wrote: This is exactly what I said would happen, and it was ignored again.",
    "{name} wrote: Thanks for the clear explanation, I shared it with my family.",
    "{name} wrote: Interesting, though I would like to hear from the other side as well.",
)
_COMMENT_PARTS = (
    (
        "Honestly,",
        "As someone who lives nearby,",
        "Not for the first time,",
        "Having read the whole thread,",
        "With respect to the previous poster,",
        "Speaking as a parent,",
        "After thirty years in the trade,",
    ),
    (
        "I think the real problem is money",
        "nobody asked the people on the ground",
        "the numbers quoted here look optimistic",
        "this was always going to end up in court",
        "the council should have acted sooner",
        "the same thing happened in our town last spring",
        "we keep having this argument every winter",
    ),
    (
        "and I doubt anything will change.",
        "but I hope I am wrong about that.",
        "so let us see what happens next month.",
        "which is a shame for everyone involved.",
        "and frankly the coverage elsewhere has been worse.",
        "though I admit it is complicated.",
    ),
)
_NAMES = ("Pat from Eastfield", "Jordan K", "retired_teacher", "Sam the sailor", "Mo Adeyemi")
_ABOUT = (
    "The {outlet} is an independent news organisation serving readers in the valley and the "
    "coast since 1921. Our journalists are based in four offices and report on local "
    "politics, business, courts, culture and sport, and we rely on readers like you to "
    "keep our reporting free to read for everyone who needs it."
)
_LEDES = (
    "It is the story everyone in town has been talking about this week, and the questions it "
    "raises are not going away any time soon, as our reporters found when they spoke to "
    "people on both sides.",
    "For many readers the news came as a surprise, but those who have followed the issue "
    "closely say the signs had been there for some time, and that the real test is still to "
    "come.",
    "What began as a small item in the morning bulletins had become one of the biggest "
    "stories of the day by the afternoon, drawing reaction from politicians, businesses and "
    "ordinary people alike.",
)
_HOUSE_STYLE = {
    "said": "says",
    "says": "said",
    "also": "as well",
    "however": "but",
    "people": "residents",
    "government": "administration",
    "company": "firm",
    "firm": "company",
    "announced": "revealed",
    "added": "continued",
    "expected": "predicted",
    "about": "around",
    "around": "about",
    "because": "as",
    "while": "whilst",
    "percent": "per cent",
    "but": "yet",
    "new": "fresh",
    "big": "large",
    "show": "indicate",
    "told": "informed",
    "major": "significant",
}
_WORD = re.compile(r"\b[a-z]+\b")
_SENTENCE = re.compile(r"(?<=[.!?\"”])\s+(?=[A-Z“\"])")


def _pad(rng: random.Random, outlet: str, words: int) -> tuple[list[str], list[str]]:
    """Outlet material of about ``words`` words (at least one line): (lines above the
    story: a standfirst, then a related-coverage block; lines below: the rest)."""
    related = [
        "Related coverage: " + "; ".join(rng.sample(_RELATED, 4)).format(outlet=outlet)
        for _ in range(2)
    ]
    lines = [
        rng.choice(_STANDFIRST).format(outlet=outlet),
        related[0],
        _ABOUT.format(outlet=outlet),
        *(c.format(name=rng.choice(_NAMES)) for c in rng.sample(_COMMENTS, 4)),
        related[1],
        *(rng.choice(_STANDFIRST).format(outlet=outlet) for _ in range(3)),
    ]
    chosen: list[str] = []
    total = 0
    while not chosen or total < words:
        line = lines.pop(0) if lines else _comment(rng)
        chosen.append(line)
        total += len(line.split())
    return chosen[:2], chosen[2:]


def _comment(rng: random.Random) -> str:
    """One more invented reader comment (combinations, so long threads don't repeat)."""
    parts = [rng.choice(part) for part in _COMMENT_PARTS]
    return f"{rng.choice(_NAMES)} replied: {' '.join(parts)}"


def _trim(rng: random.Random, paragraphs: list[str], share: float) -> list[str]:
    out = []
    for i, p in enumerate(paragraphs):
        sentences = _SENTENCE.split(p)
        kept = [s for j, s in enumerate(sentences) if (i == 0 and j == 0) or rng.random() > share]
        if kept:
            out.append(" ".join(kept))
    return out


def _tail(article: DevArticle, share: float, most: float) -> list[str]:
    """The last sentences of ``article``: at most ``share`` of its words and ``most``
    words (at least one sentence)."""
    sentences = [s for p in _paragraphs(article.text) for s in _SENTENCE.split(p)]
    budget = min(most, share * sum(len(s.split()) for s in sentences))
    tail: list[str] = []
    while sentences and (not tail or len(sentences[-1].split()) <= budget):
        budget -= len(sentences[-1].split())
        tail.insert(0, sentences.pop())
    return [" ".join(tail)]


def _reword(rng: random.Random, text: str, share: float) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        return _HOUSE_STYLE[word] if word in _HOUSE_STYLE and rng.random() < share else word

    return _WORD.sub(swap, text)


def heavy_copy(
    article: DevArticle, kind: str, seed: int, background: DevArticle | None = None
) -> DevArticle:
    """A copy of ``article`` with one heavy edit ``kind`` (see the module docstring);
    ``followup`` needs ``background``, the other story its last paragraphs come from."""
    rng = random.Random(f"{seed}:{article.id}:{kind}")
    outlet = rng.choice(OUTLETS)
    paragraphs = _paragraphs(article.text)
    if paragraphs and paragraphs[0].strip() == article.title.strip():
        paragraphs = paragraphs[1:]  # the dev sets put the headline first
    n = len(paragraphs)
    if kind == "cut":
        paragraphs = paragraphs[: max(2, round(n * rng.uniform(0.25, 0.5)))]
    elif kind == "padded":
        above, below = _pad(rng, outlet, int(len(article.text.split()) * rng.uniform(1.5, 5.0)))
        paragraphs = [*above, *paragraphs, *below]
    elif kind == "lede":
        paragraphs = paragraphs[: max(3, round(n * rng.uniform(0.7, 0.95)))]
        if len(paragraphs) >= 2:
            paragraphs[0], paragraphs[1] = paragraphs[1], paragraphs[0]
        paragraphs.insert(0, rng.choice(_LEDES))
    elif kind == "trim":
        paragraphs = _trim(rng, paragraphs, rng.uniform(0.3, 0.45))
    elif kind == "reword":
        paragraphs = [_reword(rng, p, 2 / 3) for p in paragraphs]
    elif kind in ("mixed", "cutpad"):
        keep, pad = ((0.6, 0.85), (0.1, 0.25)) if kind == "mixed" else ((0.5, 0.8), (0.5, 1.5))
        paragraphs = paragraphs[: max(2, round(n * rng.uniform(*keep)))]
        paragraphs = [_reword(rng, p, 1 / 4) for p in paragraphs]
        words = sum(len(p.split()) for p in paragraphs)
        above, below = _pad(rng, outlet, int(words * rng.uniform(*pad)))
        paragraphs = [*above, *paragraphs, *below]
    elif kind == "followup":
        if background is None:
            raise ValueError("followup needs the background story")
        paragraphs = paragraphs[: max(2, round(n * rng.uniform(0.8, 1.0)))]
        words = sum(len(p.split()) for p in paragraphs)
        paragraphs += _tail(background, rng.uniform(0.2, 0.3), words / 3)
    else:
        raise ValueError(f"unknown edit kind {kind!r}")
    title = f"{article.title}: {rng.choice(('what we know', 'the latest', 'explained'))}"
    return replace(
        article,
        id=f"{article.id}~{kind}",
        title=title,
        text="\n\n".join([title, *paragraphs]),
        published=article.published + timedelta(minutes=rng.randint(5, 900)),
        labels={**article.labels, "edit": kind},
    )
