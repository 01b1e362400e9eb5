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
J     zh, zhzh, French j, German schsch           Prigozhin / Prigojine
X     kh, German ch                               Bakhmut / Bachmut (German)
V     v, final ff, German w, Slavic final -f      Lawrow, Rachmaninoff, Kharkif
I     i, y after a consonant (6+ letters)         Lysychansk / Lisichansk
F     й after a, e, o before v/k/z/g/s or ts      Grayvoron / Graivoron
D     y, j or nothing between o and e             Dostoevsky / Dostoyevsky
A     ya, ia, iya (я; German ja)                  Mariya / Maria, Kupyansk / Kupjansk
W     yu, iu, iou, German ju (ю)                  Yulia / Ioulia / Julija
U     u, ou (French)                              Loukachenko / Lukashenko
B     -y, -iy, -yy, -yi, -ii after a consonant    Zelensky / Zelenskyy / Zelenskiy
      (6+ letters)
O     io, jo (ё)                                  Pjotr / Piotr
E     initial ye, e (and je in German)            Yevgeny / Evgeny / Jewgeni
K     ks, x                                       Oleksandr / Olexandr
Z     s, ss (not initial)                         Odesa / Odessa
H     z, s after d, or after a vowel before a     Gazprom / Gasprom,
      voiced consonant or p                       Roskomnadzor / Roskomnadsor
Y     ii, eye, ee before -vka (Ukrainian/Russian)  Avdiivka / Avdeyevka
R     -ander, -andr, -andre                       Alexander / Aleksandr / Alexandre
G     -ei, -ey, -ej after a consonant             Sergei / Sergey / Sergej / Sergueï
====  ==========================================  ================================

plus "-ov" after a hushing sound as "-ev" (Gorbachov / Gorbachev), French "gu" before
e/i as "g" and "-tsine" as "-tsin" (Sergueï, Eltsine) and German "-zk" as "-tsk" (Donezk /
Donetsk). The system a name is written in is recognised from its spelling (tsch, sch,
-ow, -ij, consonant + j + vowel: German; ou...ch...-ko/-ev, chtch, ï: French), and the
German or French reading of ch, s, z, w, j and ou applies only there (German s before a
vowel or a voiced consonant is з: Resnikow / Reznikov; an initial z before i or w is ц:
Zichanouskaja). A word English text does not use (in any name) is also read in the other
systems, with German sch as zh (Schukow) or as a shch missing its t (Khruschev) and a
German initial s as з (Sacharowa), and takes the reading whose best spelling English
text attests most, if that spelling keeps the reading's first letter, German j read as y
(Jelzin -> Yeltsin; :func:`likeliest_key`): Tymochenko without a French marker still
meets Tymoshenko. A reading that changes the first letter never wins, so rare English
words keep their keys (Charpy is not Harpy). Words under 4 letters are kept as they are,
and a word-initial "h" or "ch" is never read as kh, so Khan and Han, Hart and Chart keep
different keys.

"dzh" and German "dsch" are read as j (Tadzhikistan / Tajikistan), "gh" between vowels
or in rghi as g (Daghestan, Kirghizstan). A name that looks Slavic
(:func:`slavic`: a key shape such as -oV, -Zk, -ZkB, -enko, -VIC, -grad, or a sound of
:data:`SLAVIC`) also gets final -i after a consonant as B (Vitali / Vitaly), yo as O,
-ayev / -aev, -iyev / -iev as one sound and (as a name with a word English text does not
use) French "ou" as u (Kouleba).

The key is a pure function of the name, so every worker gives every spelling of a name
the same key in any order. Ids are made of readable words (:func:`readable_word`): a word
English text uses (``wordfreq`` Zipf frequency >= 1.5: Moscow, Twitter, Croucher,
Zelensky) stays as written, unless it is a transliteration (its key holds F, B, J, Q, Y
or X) and English text uses its key's best spelling more, below the band of ordinary
words (Yevgeniy -> evgeny, Valerii -> valery); another is written as its key's spelling
that English text uses, below that band (Zelenskyy -> zelensky, Lawrow -> lavrov,
Gorbatschow -> gorbachev), or, if none is attested and the key holds a sound only
transliterations produce (F, B, J, Q, Y, X), as its first (BGN/PCGN-style) spelling
(Grayvoron and Graivoron -> graivoron); in a re-spelled name (below) that is not in
English spelling, an unattested key is spelled BGN-style with each i / y in doubt as
written (Schmyhal -> shmyhal, Surowikin -> surovikin); any other word stays as written (Gudjohnsen).
Other pairs of spellings English text both uses (Odesa / Odessa, Lisichansk / Lysychansk)
keep their own ids: y/i, s/ss and the like also tell English names apart (Tindall /
Tyndall, Vyvyan / Vivian, Fischer / Fisher), so they are not re-spelled -- unless the
name is Slavic or has a word English text does not use (``respell``): then every word
takes its key's most used spelling (:func:`best_spelling`) unless it is itself used
more, so Sergei, Sergey and Sergej Lavrov, or Lisichansk and Lysychansk, share one id;
an attested word of a merely unattested name (Joschka Fischer) is re-spelled only if its
key holds a transliteration sound.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

MIN_WORD = 4
MAX_WORD = 40  # longer 'words' are no names: not keyed, and every rule sees <= 40 chars
MAX_CANDIDATES = 512
_RULES: tuple[tuple[re.Pattern[str], str, int], ...] = tuple(
    # regex-audit: linear because each rule sees one word of at most MAX_WORD chars
    (re.compile(rule[0]), rule[1], rule[2] if len(rule) > 2 else MIN_WORD)
    for rule in (
        (r"dzh|dsch", "j"),
        (r"(?<=[aeiouy])gh(?=[aeiouy])|(?<=r)gh(?=i)", "g"),
        (r"shch|schtsch|chtch", "Q"),
        (r"tsch|tch", "C"),
        (r"sch", "S"),
        (r"zk$", "tsk"),
        (r"sh", "S"),
        (r"(?<!^)ch", "C"),
        (r"^ch", "C"),
        (r"kh", "X"),
        (r"zhzh", "J"),
        (r"zh", "J"),
        (r"j(?=ine$)", "J"),
        (r"(?<=J)ine$", "in"),
        (r"(?<=o)[yj]?(?=e)", "D"),
        (r"^ye|^e", "E"),
        (r"(?<=ts)ine$", "in"),
        (r"(?<=and)(?:er|re|r)$", "R"),
        (r"(?<=g)u(?=e[iyj]$)", ""),
        (r"(?<=[^aeiou])e[iyj]$", "G"),
        (r"(?<=[CSJQ])o(?=[vwV]a?$)", "e"),
        (r"(?<=[bcdfgklmnprstvxzCSJQ])(?:iy|yy|yi|ii|ij|yj|y)$", "B", 6),
        (r"(?:iyi|ii|eye|eie|ee)(?=[vV]ka$)", "Y"),
        (r"iou|^iU|yu|iu", "W"),
        (r"(?<=[^aeiou])(?:iya|ia|ya)|^ya", "A"),
        (r"io|jo", "O"),
        (r"(?<=[aeo])(?:yi|y|i)(?=[vVkzgs]|ts)", "F"),
        (r"(?<=[^aeiouAOUE])[iy]|^i", "I", 6),
        (r"v|ff$", "V"),
        (r"ks|x", "K"),
        (r"(?<=d)[sz]|(?<=[aeiou])[sz](?=[bdglmnprvV])", "H"),
        (r"(?<!^)ss?", "Z"),
        (r"u", "U"),
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
    "F": ("i", "y"),
    "A": ("ia", "ya", "iya", "ja"),
    "U": ("u", "ou"),
    "W": ("yu", "iu", "ju", "iou"),
    "O": ("yo", "io", "jo"),
    "E": ("e", "ye"),
    "K": ("ks", "x"),
    "Y": ("ii", "eye", "ee", "iyi"),
    "Z": ("s", "ss"),
    "H": ("z", "s"),
    "B": ("y", "iy", "yy", "yi", "ii"),
    "D": ("", "y", "j"),
    "R": ("er", "r", "re"),
    "G": ("ei", "ey"),
}


# regex-audit: linear because it sees one word of at most MAX_WORD chars
_GERMAN = re.compile(
    r"tsch|sch|[^aeioud]j[aeiou]|[oei]wa?$|[iey]j$|w\w*(?:sk|skij|skaja|grad|gorod)$"
)
# regex-audit: linear because it sees one word of at most MAX_WORD chars
_FRENCH = re.compile(r"chtch|ï|ou\w*ch\w*(?:ko|ev|ov|ine)$|(?<=[aeiou])j(?=ine$)")
# Applied before the common rules to a name written in that system.
_SYSTEM_RULES: dict[str, tuple[tuple[re.Pattern[str], str, int], ...]] = {
    "de": tuple(
        # regex-audit: linear because each rule sees one word of at most MAX_WORD chars
        (re.compile(p), r, MIN_WORD)
        for p, r in (
            (r"schtsch", "Q"),
            (r"schsch", "J"),  # жж: Saporischschja
            (r"tsch", "C"),
            (r"(?<![st])ch", "X"),
            (r"w", "V"),
            (r"(?<=[lnr])z", "ts"),
            (r"(?<=[aeiou])z(?=[aeiou])", "ts"),
            # s for з before a vowel or a voiced consonant (Resnikow, Ramsan, Gasprom;
            # not Kasachstan's st)
            (r"(?<=[a-z])(?<![sct])s(?=[aeiouynmlrbdgvw])", "z"),
            (r"^z(?=[iw])", "ts"),  # Zichanouskaja, Zwetajewa (not a read-in s: Sacharowa)
            (r"^je", "E"),
            (r"(?<=[^aeiou])j(?=[^aeiou])", "I"),
            (r"ju", "W"),
            (r"j", "y"),
        )
    ),
    "fr": tuple(
        # regex-audit: linear because each rule sees one word of at most MAX_WORD chars
        (re.compile(p), r, MIN_WORD)
        for p, r in (
            (r"chtch", "Q"),
            (r"tch", "C"),
            (r"ch", "S"),
            (r"j", "J"),
            (r"gu(?=[ei])", "g"),
            (r"ou", "U"),
        )
    ),
    "en": (),
}


# Key shapes only Slavic names (and their transliterations) take: Lavrov / Lawrow (-oV),
# Lysychansk (-Zk), Dostoevsky (-ZkB), Tymoshenko, Yanukovych (-VIC), Volgograd; and the
# -stan and -burg of place names transliterated as often (Dagestan, Yekaterinburg).
# regex-audit: linear because it sees one word key of at most MAX_WORD chars
_SLAVIC_SHAPE = re.compile(
    r"(?:[oe]Va?|Zk(?:[IBiy]|aya|aja|A)?|enko|Cko|[CJ]Uk|yUk|VIC|VIt?ZC|grad|gorod|Ztan|bUrg"
    r"|tZIn)$"
)
# Applied (before the common rules) to a name that looks Slavic:
# final -i after a consonant (Vitali / Vitaly), yo (ё), -ayev / -aev.
_SLAVIC_RULES: tuple[tuple[re.Pattern[str], str, int], ...] = tuple(
    # regex-audit: linear because each rule sees one word of at most MAX_WORD chars
    (re.compile(p), r, n)
    for p, r, n in (
        (r"(?<=[bcdfgklmnprstvz])i$", "B", 6),
        (r"(?<=[^aeiou])yo", "O", MIN_WORD),
        (r"(?<=[aiu])[yj]?(?=e[vwV]a?$)", "D", 5),
        (r"(?<=[aeiou])f$", "V", 6),
    )
)
# Applied to a Slavic name or one with a word English text does not use: French ou for u.
_FOREIGN_RULES: tuple[tuple[re.Pattern[str], str, int], ...] = (
    (re.compile(r"ou(?!sk)"), "U", MIN_WORD),
)


def slavic(form: str, written_in: str = "en") -> bool:
    """Whether a normal-form name looks like a transliterated Slavic name: a word (5+
    letters) of a Slavic shape (-ov, -sky, -enko, -vich, -grad, ...), or one English
    text does not use with a sound only transliterations write (kh, zh, shch, -iy; see
    :data:`SLAVIC`; English words such as yearly, Zhou, Chow or Bois do not count)."""
    words = [w for w in form.split() if MIN_WORD <= len(w) <= MAX_WORD and w.isalpha()]
    return any(
        (len(w) > MIN_WORD and _SLAVIC_SHAPE.search(k))
        or (SLAVIC.intersection(k) and frequency(w) < KNOWN)
        for w, k in ((w, word_key(w, written_in)) for w in words)
    )


def foreign(form: str) -> bool:
    """Whether a normal-form name has a word (4+ letters) English text does not use."""
    return any(
        frequency(w) < KNOWN for w in form.split() if MIN_WORD <= len(w) <= MAX_WORD and w.isalpha()
    )


def system(form: str) -> str:
    """The romanisation a normal-form name is written in: German, French or English."""
    words = [w for w in form.split() if MIN_WORD <= len(w) <= MAX_WORD]
    if any(_GERMAN.search(w) for w in words):
        return "de"
    return "fr" if any(_FRENCH.search(w) for w in words) else "en"


def word_key(
    word: str, written_in: str = "en", slavic_name: bool = False, foreign_name: bool = False
) -> str:
    """The key of one normal-form word (see the module docstring)."""
    if not MIN_WORD <= len(word) <= MAX_WORD or not word.isalpha():
        return word
    length = len(word)
    extra = _SLAVIC_RULES if slavic_name else ()
    extra += _FOREIGN_RULES if slavic_name or foreign_name else ()
    for pattern, repl, min_length in _SYSTEM_RULES[written_in] + extra + _RULES:
        if length >= min_length:
            word = pattern.sub(repl, word)
    return word


SYSTEMS = ("en", "de", "fr")


def likeliest_key(
    word: str, written_in: str = "en", slavic_name: bool = False, foreign_name: bool = False
) -> str:
    """The key of a word English text does not use (in a Slavic name: the caller decides),
    read in the romanisation whose key English text knows best: a spelling the system
    rules misread (Tymochenko without a French marker, Schukow's sch for zh) still finds
    the key of its attested spelling (Tymoshenko, Zhukov). A word English text uses, or
    one no reading makes attested, keeps the key of its detected system
    (:func:`word_key`)."""
    key = word_key(word, written_in, slavic_name, foreign_name)
    if len(word) <= MIN_WORD or not word.isalpha() or frequency(word) >= KNOWN:
        return key
    return _likeliest(word, key, slavic_name, foreign_name)


@lru_cache(maxsize=65536)
def _likeliest(word: str, key: str, slavic_name: bool, foreign_name: bool) -> str:
    best, best_known = key, frequency(best_spelling(key))
    readings = [(word, written_in) for written_in in SYSTEMS]
    if word.startswith("s") and not word.startswith("sch"):
        readings.append(("z" + word[1:], "de"))  # German s for з: Sacharowa / Zakharova
    if "sch" in word:  # German sch for ж (Prigoschin), sch for shch (Khruschev)
        for sound in ("zh", "shch"):
            readings += [(word.replace("sch", sound), "en"), (word.replace("sch", sound), "de")]
    for spelled, written_in in readings:  # a fixed order: ties keep the earlier reading
        for as_slavic in dict.fromkeys((slavic_name, True)):
            other = word_key(spelled, written_in, as_slavic, foreign_name)
            attested = best_spelling(other)
            known = frequency(attested)
            # only an attested spelling wins (best_known >= 0), and one with the same
            # first letter as the reading (Charpy is not Harpy, Sacharowa is Zakharova)
            # and, for a name that does not look Slavic, only a Slavic-looking spelling
            # (Prigoschin -> prigozhin, Jelzin -> yeltsin; not Frech -> fresh)
            if (
                known > best_known
                and _same_initial(attested, spelled, written_in)
                and (slavic_name or slavic(attested))
            ):
                best, best_known = other, known
    return best


def _same_initial(attested: str, spelled: str, written_in: str) -> bool:
    """The reading keeps its first letter; German initial j is English y (Jelzin)."""
    return attested[:1] == spelled[:1] or (written_in, spelled[:1], attested[:1]) == (
        "de",
        "j",
        "y",
    )


KNOWN = 1.5  # Zipf frequency from which a spelling is one English text uses as it is
NAME_BAND = 4.0  # candidates this common are ordinary words (found, fewer), not names


@lru_cache(maxsize=65536)
def frequency(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en", wordlist="large")


SLAVIC = frozenset("FBJQYX")  # placeholders (almost) only transliterations produce
TRANSLITERATED = SLAVIC | {"G"}  # and -ei / -ey, which English names also end in


def readable_word(
    word: str,
    key_word: str,
    respell: bool = False,
    slavic_name: bool = False,
    written_in: str = "en",
) -> str:
    """How a word shows in an id: as written if English text uses it (Croucher, Tindall,
    Zelensky); else the attested spelling of its key (Zelenskyy -> zelensky, Lawrow ->
    lavrov); else, for a transliteration, its key's BGN-style spelling (Grayvoron and
    Graivoron -> grayvoron); else as written (Gudjohnsen). With ``respell`` (a Slavic
    name, or one with a word English text does not use) a word takes its key's most used
    spelling unless it is itself used more (Sergey and Sergej -> sergei, Tschernihiw ->
    chernihiv), so every spelling of the key gets one id."""
    transliterated = bool(TRANSLITERATED.intersection(key_word))
    if respell and (slavic_name or transliterated or frequency(word) < KNOWN):
        best = best_spelling(key_word)
        known = frequency(best)
        # no spelling attested: the BGN-style spelling, unless i / y is in doubt
        # (Pokrowsk, Kupyansk -> pokrovsk, kupiansk; Kyrylo, Schytomyr stay) or, in an
        # English spelling, the name is not Slavic (Subryan) or it would drop letters
        # (Grigoropoulos, Cherkessk stay)
        english = slavic_name and len(best) == len(word)
        guess = written_in != "en" or english
        if known >= frequency(word) and known > 0:
            return best
        if known >= frequency(word) and guess:
            return best if "I" not in key_word else _as_written(key_word, word)
    spelled = spell(key_word)
    if frequency(word) >= KNOWN:
        # a spelling English text uses gives way only to a more common spelling of the
        # same transliterated name (Yevgeniy -> evgeny, Valerii -> valery)
        better = transliterated and frequency(word) < frequency(spelled) < NAME_BAND
        return spelled if better else word
    if frequency(spelled) >= KNOWN or transliterated:
        return spelled
    return word


def _as_written(key_word: str, word: str) -> str:
    """The BGN-style spelling of a key, with each i / y in doubt (I) as the word has it
    (Schmyhal -> shmyhal, Puschilin -> pushilin): the closest such spelling to the word."""
    first = "".join(SPELLINGS.get(ch, (ch,))[0] if ch != "I" else ch for ch in key_word)
    options = [
        first.replace("I", "{}").format(*combo)
        for combo in itertools.product("iy", repeat=first.count("I"))
    ]
    return min(options, key=lambda o: Levenshtein.distance(o, word))


@lru_cache(maxsize=65536)
def spell(key_word: str) -> str:
    """The readable spelling of a key word: its best-known candidate below the band of
    ordinary words, else the first (BGN/PCGN-style) spelling of each placeholder."""
    slots = [SPELLINGS.get(ch, (ch,)) for ch in key_word]
    total = 1
    for options in slots:
        total *= len(options)
    if total == 1:
        return key_word
    first = "".join(options[0] for options in slots)
    if total > MAX_CANDIDATES:
        return first
    best, best_score = first, 0.0
    for combo in itertools.product(*slots):  # first spellings first: ties keep them
        candidate = "".join(combo)
        score = frequency(candidate)
        if best_score < score < NAME_BAND:
            best, best_score = candidate, score
    return best


@lru_cache(maxsize=65536)
def best_spelling(key_word: str) -> str:
    """The spelling of a key word English text uses most (Sergei for Sergei / Sergey /
    Sergej, Lavrov for Lawrow), else its first (BGN/PCGN-style) spelling: a function of
    the key alone, so every spelling of a transliterated name gets one id."""
    slots = [SPELLINGS.get(ch, (ch,)) for ch in key_word]
    if math.prod(len(options) for options in slots) > MAX_CANDIDATES:
        return "".join(options[0] for options in slots)
    candidates = enumerate("".join(combo) for combo in itertools.product(*slots))
    return max(candidates, key=lambda ic: (frequency(ic[1]), -ic[0]))[1]
