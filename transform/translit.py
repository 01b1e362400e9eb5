"""Match keys for transliterated names, and the readable spelling a key is shown as.

A name's letters are read as sounds where romanisation systems disagree, so English,
German, French and Ukrainian renderings of one Cyrillic name share a key: each sound
becomes one placeholder (upper case; the normal form is lower case):

====  ==========================================  ================================
key   written as                                  e.g.
====  ==========================================  ================================
Q     shch, schtsch, chtch                        Khrushchev / Khrouchtchev
C     ch, tch, tsch                               Gorbachev / Gorbatschow
S     sh, sch                                     Shoigu / Schoigu
J     zh, zhzh, French j                          Prigozhin / Prigojine
X     kh, h between a vowel and a consonant       Bakhmut / Bahmut
V     v, w, final ff                              Lavrov / Lawrow, Rachmaninoff
I     i, y after a consonant; й before v/k/z/g/s  Lysychansk / Lisichansk,
      or ts, or at the end                        Sergei / Sergey / Sergej
A     ya, ia, ja, iya, ija (я)                    Mariya / Maria, Kupyansk / Kupjansk
W     yu, iu, ju, iou (ю)                         Yulia / Julia / Ioulia
U     u, ou                                       Loukachenko / Lukashenko
O     yo, io, jo (ё)                              Pyotr / Pjotr / Piotr
E     ye, je (initial), e                         Yevgeny / Evgeny
K     ks, x                                       Oleksandr / Olexandr
Z     s, ss (not initial)                         Odesa / Odessa
Y     ii, eye, ee before -vka (Ukrainian/Russian)  Avdiivka / Avdeyevka
E     ye, je, ie after a consonant                Sievierodonetsk / Syeverodonetsk
R     -ander, -andr, -andre                       Alexander / Aleksandr / Alexandre
====  ==========================================  ================================

plus "-ov" after a hushing sound as "-ev" (Gorbachov / Gorbachev), French "gu" before
e/i as "g" and "-tsine" as "-tsin" (Sergueï, Eltsine), a doubled "zh" as one
(Zaporizhzhia / Zaporizhia) and German "-zk" as "-tsk" (Donezk / Donetsk). Words under 4
letters are kept as they are, and a word-initial "h" or "ch" is never read as kh, so Khan
and Han, Hart and Chart keep different keys.

The key is a pure function of the name, so every worker gives every spelling of a name
the same key in any order. To show a key (and make an id of it) each placeholder is
written back as each of its spellings, and the candidate English readers meet most often
wins (``wordfreq``, Zipf frequency in English): Moscow, Twitter and Richard come back as
they are written, Gorbatschow as Gorbachev; where no candidate is known, the first
(BGN/PCGN-style) spelling of each placeholder is used.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

MIN_WORD = 4
MAX_CANDIDATES = 512
_V = "aeiouAEIOUy"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"shch|schtsch|chtch", "Q"),
        (r"tsch|tch", "C"),
        (r"sch", "S"),
        (r"zk$", "tsk"),
        (r"sh", "S"),
        (r"(?<!^)ch", "C"),
        (r"^ch", "C"),
        (r"kh", "X"),
        (rf"(?<=[{_V}])h(?=[^{_V}h])", "X"),
        (r"zhzh", "J"),
        (r"zh", "J"),
        (r"j(?=ine$)", "J"),
        (r"(?<=J)ine$", "in"),
        (r"^(?:ye|je)", "E"),
        (r"(?<=[^aeiouy])(?:ye|je|ie)", "E"),
        (r"(?<=ts)ine$", "in"),
        (r"gu(?=[ei])", "g"),
        (r"(?<=and)(?:er|re|r)$", "R"),
        (r"(?<=[CSJQ])o(?=[vw]a?$)", "e"),
        (r"(?:iyi|ii|eye|eie|ee)(?=vka$)", "Y"),
        (r"iou|yu|iu|ju", "W"),
        (r"ou", "U"),
        (r"(?<=[^aeiou])(?:iya|ija|ia|ya|ja)|^(?:ya|ja)", "A"),
        (r"yo|io|jo", "O"),
        (r"(?<=[aeo])(?:yi|y|i)(?=[vkzgs]|ts)", "I"),
        (r"(?<=[aeo])[iyj]$", "I"),
        (r"(?<=[aeo])yi", "I"),
        (r"(?<=[^aeiouAOUE])[iy]|^i", "I"),
        (r"(?<=[^aeiouAOUE])j(?=[^aeiou]|$)", "I"),
        (r"j", "y"),
        (r"[vw]|ff$", "V"),
        (r"ks|x", "K"),
        (r"(?<!^)ss?", "Z"),
        (r"u", "U"),
        (r"e", "E"),
    )
)
SPELLINGS: dict[str, tuple[str, ...]] = {
    "Q": ("shch", "schtsch", "chtch"),
    "C": ("ch", "tch", "tsch"),
    "S": ("sh", "sch"),
    "J": ("zh", "j", "zhzh"),
    "X": ("kh", "h", "ch"),
    "V": ("v", "w", "ff"),
    "I": ("i", "y"),
    "A": ("ia", "ya", "iya", "ja"),
    "U": ("u", "ou"),
    "W": ("yu", "iu", "ju", "iou"),
    "O": ("yo", "io", "jo"),
    "E": ("e", "ye", "ie", "je"),
    "K": ("ks", "x"),
    "Y": ("ii", "eye", "ee", "iyi"),
    "Z": ("s", "ss"),
    "R": ("er", "r", "re"),
}


_GERMAN = re.compile(r"tsch|sch|[^aeiou]j[aeiou]|^j[aeiou]|[oe]wa?$|[iy]j$")
_FRENCH = re.compile(r"ou|[^J]ine$|tch|ï")
# Applied before the common rules to a name written in that system.
_SYSTEM_RULES: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "de": tuple(
        (re.compile(p), r)
        for p, r in (
            (r"schtsch", "Q"),
            (r"tsch", "C"),
            (r"(?<![st])ch", "X"),
            (r"(?<=[aeiou])s(?=[aeiou])", "z"),
            (r"(?<=[lnr])z", "ts"),
            (r"(?<=[aeiou])z(?=[aeiou])", "ts"),
        )
    ),
    "fr": tuple(
        (re.compile(p), r)
        for p, r in (
            (r"chtch", "Q"),
            (r"tch", "C"),
            (r"ch", "S"),
            (r"j", "J"),
            (r"(?<=[^aeiou])e$", ""),
        )
    ),
    "en": (),
}


def system(form: str) -> str:
    """The romanisation a normal-form name is written in: German, French or English."""
    words = [w for w in form.split() if len(w) >= MIN_WORD]
    if any(_GERMAN.search(w) for w in words):
        return "de"
    return "fr" if any(_FRENCH.search(w) for w in words) else "en"


def word_key(word: str, written_in: str = "en") -> str:
    """The key of one normal-form word (see the module docstring)."""
    if len(word) < MIN_WORD or not word.isalpha():
        return word
    for pattern, repl in _SYSTEM_RULES[written_in] + _RULES:
        word = pattern.sub(repl, word)
    return word


@lru_cache(maxsize=65536)
def spell(key_word: str) -> str:
    """The readable spelling of a key word: its best-known candidate, else the first."""
    slots = [SPELLINGS.get(ch, (ch,)) for ch in key_word]
    total = 1
    for options in slots:
        total *= len(options)
    if total == 1:
        return key_word
    first = "".join(options[0] for options in slots)
    if total > MAX_CANDIDATES:
        return first
    from wordfreq import zipf_frequency

    best, best_score = first, 0.0
    for combo in itertools.product(*slots):  # first spellings first: ties keep them
        candidate = "".join(combo)
        score = zipf_frequency(candidate, "en", wordlist="large")
        if score > best_score:
            best, best_score = candidate, score
    return best
