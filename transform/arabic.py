"""Romanised Arabic, Persian and Hebrew names: one key and one id for their spellings.

English text writes one Arabic name many ways (Gaddafi / Qaddafi / Gadhafi, Osama /
Usama / Oussama, Muhammad / Mohammed / Mohammad, Rouhani / Rowhani / Rohani): the script
writes no short vowels, so romanisations disagree on them and on doubled letters. A name
is read this way only when it is **detected** as Arabic (:func:`arabic`): a name of 2+
words, or one with an article prefix (al-Gaddafi), with a marker:

* a particle: ``bin``, ``ibn``, ``bint``, ``abu``, ``abd``/``abdel``/``abdul``, an
  article prefix (``al-``, ``el-``, ``ad-``, ...), or ``ben`` between two names (Oussama
  ben Laden; a first name Ben is no particle);
* a spelling only Arabic romanisation writes: ``q`` not followed by ``u`` (Qaddafi,
  Qassem), ``dh`` after a vowel (Gadhafi), an apostrophe between vowels for ayn or hamza
  (Khamene'i);
* a common Arabic / Persian given name as the first word, in any spelling (matched by its
  key, :data:`GIVEN_NAMES`): Muhammad, Ahmad, Ali, Hasan, Husain, Mahmud, Umar, ...

Other names never take these rules: Allen / Allan, Martin / Marten, Green / Greene,
Thompson / Thomson stay apart.

**Key** (:func:`key`), per word: kh and ch -> X, sh -> S, q, g and gh -> G (Qaddafi /
Gaddafi, Baghdadi / Bagdadi), dh -> d, doubled consonants single (Hassan / Hasan); vowels
by class: u, o, ou, oo, ow -> U; ei, ey, ai, ay (not before a vowel) -> Y; i, ee -> I; a,
and the e of a final -ed or -eh (Mohammed / Muhammad, Haniyeh / Haniya) -> A; any other e
-> E (Salah / Saleh, Qassem / Qassam and Khamenei / Khomeini stay apart). ``bin``,
``ibn`` and a particle ``ben`` are one word.

**Id** (:func:`spelling`): each word takes the spelling of its key that English text uses
most (wordfreq), if that is used at all (Zipf >= 1.5), at least as much as the word as
written, is a name rather than an ordinary word (Zipf < 4: Saleh is never ``sale``) and
has this same key (so two keys never share an id: Saleh is never ``salah``); else the
word stays as written. So every spelling of a name gets the most
used one (``muammar-gaddafi``, ``osama-bin-laden``, ``muhammad-bin-salman``), and the
most used spelling itself needs no marker (Muammar Gaddafi stays as written, and that is
the id its other spellings take). A pure function of the name.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import lru_cache

from transform.translit import KNOWN, NAME_BAND, frequency

MAX_CANDIDATES = 4096
PARTICLES = frozenset({"bin", "ibn", "bint", "abu", "abd", "abdel", "abdul", "abdal"})
_ARTICLE_PREFIX = r"(?:al|el|ad|ash|as|ar|at|an|az|ath)-\w"  # al-Gaddafi, ash-Sharaa
# regex-audit: linear because it has no nested quantifier and sees one name
_MARKER = re.compile(
    rf"\b{_ARTICLE_PREFIX}|q(?!u)|(?<=[aeiou])dh|[aeiou]['’ʼʻ][aeiou]",
    re.I,
)
# regex-audit: linear because it is a fixed prefix of one name
_ARTICLE = re.compile(_ARTICLE_PREFIX, re.I)
# Arabic / Persian given names that mark a name as Arabic (by key: in any spelling)
GIVEN_NAMES = (
    "muhammad",
    "ahmad",
    "ali",
    "hasan",
    "husain",
    "mahmud",
    "umar",
    "usama",
    "abdullah",
    "khalid",
    "ibrahim",
    "yusuf",
    "mustafa",
    "hamad",
    "hamid",
    "salman",
    "jamal",
    "khalil",
    "karim",
    "ismail",
)
_ORDER: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    # regex-audit: linear because each rule sees one word of a name
    (re.compile(p), r)
    for p, r in (
        (r"sch|sh", "S"),
        (r"kh|ch", "X"),
        (r"(?<=[aeiou])dh", "d"),
        (r"q|gh|g", "G"),
        (r"([bcdfjklmnprstvwxzGSX])\1", r"\1"),
        (r"ou|oo|ow(?![aeiou])|o|u", "U"),
        (r"(?:ei|ey|ai|ay)(?![aeiou])", "Y"),
        (r"ee|i", "I"),
        (r"e(?=d$)|eh$", "A"),
        (r"a+", "A"),
        (r"e", "E"),
        (r"([AEIU])\1+", r"\1"),
    )
)
SPELLINGS: dict[str, tuple[str, ...]] = {
    "S": ("sh",),
    "X": ("kh", "ch"),
    "G": ("g", "q", "gh"),
    "U": ("u", "o", "ou", "oo", "ow"),
    "Y": ("ei", "ey", "ai", "ay"),
    "I": ("i", "ee"),
    "A": ("a", "e"),
    "E": ("e",),
    "d": ("d", "dd", "dh"),
}
_VOWELS = frozenset("AEIUY")


def key(word: str) -> str:
    """The key of one lower-case word of an Arabic name (see the module docstring)."""
    if word in ("bin", "ibn", "ben"):
        return "bin"
    if len(word) < 3 or not word.isalpha():
        return word
    for pattern, repl in _ORDER:
        word = pattern.sub(repl, word)
    return word


GIVEN = frozenset(key(n) for n in GIVEN_NAMES)


def arabic(name: str, words: list[str]) -> bool:
    """Whether a name (as written, and its normal-form words) is a romanised Arabic one."""
    if len(words) < 2 and not _ARTICLE.match(name):  # one word: too little to tell
        return False
    if _MARKER.search(name) or any(w in PARTICLES for w in words):
        return True
    if any(w == "ben" for w in words[1:-1]):
        return True
    return len(words) > 1 and key(words[0]) in GIVEN


@lru_cache(maxsize=65536)
def spelling(word: str) -> str:
    """The id spelling of a word of an Arabic name: its key's most used spelling, if
    English text uses it (and at least as much as the word), else the word."""
    k = key(word)
    if k == "bin":
        return "bin"
    if len(word) < 3 or not word.isalpha():
        return word
    slots = [_options(k, i) for i in range(len(k))]
    if math.prod(len(s) for s in slots) > MAX_CANDIDATES:
        return word
    best, best_known = word, frequency(word)
    for combo in itertools.product(*slots):  # a fixed order: ties keep the earlier
        candidate = "".join(combo)
        known = frequency(candidate)
        # a name, not an ordinary word (sale), and a spelling of this key only
        if best_known < known < NAME_BAND and key(candidate) == k:
            best, best_known = candidate, known
    return best if best_known >= KNOWN else word


def _options(k: str, i: int) -> tuple[str, ...]:
    ch = k[i]
    if ch == "A" and i == len(k) - 1:
        return ("a", "e", "eh")  # Haniya / Haniyeh
    if ch in SPELLINGS:
        return SPELLINGS[ch]
    between = 0 < i < len(k) - 1 and k[i - 1] in _VOWELS and k[i + 1] in _VOWELS
    return (ch, ch + ch) if between and ch.isalpha() else (ch,)
