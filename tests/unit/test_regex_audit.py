"""CI check for super-linear regexes (issue 13, catalogue B2).

Scans the Python source for ``re.<function>(<pattern>, ...)`` calls and flags patterns
with the shapes that backtrack super-linearly on a failing match:

* a nested quantifier: an unbounded repeat inside another repeat, ``(a+)+``, ``(\\s*x)*``;
* an alternation inside a repeat whose branches can start with the same character,
  ``(a|ab)*``;
* two unbounded repeats over overlapping characters with only characters they both accept
  between them, ``<meta[^>]+charset\\s*=`` or ``[^>]*x[^>]*y`` (quadratic or worse on a long
  unterminated tag);
* a pattern that is not a literal (it cannot be checked).

A flagged line can carry ``# regex-audit: linear because <reason>`` (on the call's lines
or the line above) when a human has checked it. Patterns compiled with ``re2`` are linear
by construction and not scanned. The finding names ``file:line``.

Scope: every package that sees fetched or extracted text (ingest/, transform/, sink/ and
the core, wiredesk/).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

try:  # Python 3.11+: the parser behind re, needed to walk a pattern's structure
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("ingest", "transform", "wiredesk", "sink")
MARKER = "# regex-audit: linear because"
RE_FUNCS = {
    "compile",
    "search",
    "match",
    "fullmatch",
    "findall",
    "finditer",
    "sub",
    "subn",
    "split",
}
# characters the set arithmetic is done over: ASCII plus a few non-ASCII classes
ALPHABET = frozenset(
    [chr(i) for i in range(128)] + list("\u00a0\u00e9\u00df\u0663\u2028\u4e2d\ufffe\U0001f600")
)
CATEGORY = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT)
ZERO_WIDTH = (C.AT, C.ASSERT, C.ASSERT_NOT)


# -- character sets of pattern items ----------------------------------------------------
def _chars(op: object, av: object, icase: bool) -> frozenset[str] | None:
    """The characters a single-character item matches, or None if it is not one."""
    if op is C.LITERAL:
        c = chr(av)  # type: ignore[arg-type]
        return frozenset(_case(c, icase)) & ALPHABET | {c}
    if op is C.NOT_LITERAL:
        return ALPHABET - {chr(av)}  # type: ignore[arg-type]
    if op is C.ANY:
        return ALPHABET
    if op is C.IN:
        negate, out = False, set()
        for iop, iav in av:  # type: ignore[attr-defined]
            if iop is C.NEGATE:
                negate = True
            elif iop is C.LITERAL:
                out |= _chars(iop, iav, icase) or set()
            elif iop is C.RANGE:
                lo, hi = iav
                out |= {c for c in ALPHABET if any(lo <= ord(v) <= hi for v in _case(c, icase))}
            elif iop is C.CATEGORY:
                rx = re.compile(CATEGORY.get(str(iav), "."), re.S)
                out |= {c for c in ALPHABET if rx.match(c)}
            else:
                out |= ALPHABET  # unknown member: assume anything
        return frozenset(ALPHABET - out if negate else out)
    return None


def _case(c: str, icase: bool) -> set[str]:
    return {v for v in (c, c.lower(), c.upper()) if len(v) == 1} if icase else {c}


def _all_chars(seq: list, icase: bool) -> frozenset[str]:
    """Every character any part of ``seq`` can match."""
    out: set[str] = set()
    for op, av in seq:
        single = _chars(op, av, icase)
        if single is not None:
            out |= single
        for sub in _children(op, av):
            out |= _all_chars(sub, icase)
    return frozenset(out)


def _children(op: object, av: object) -> list[list]:
    if op in REPEATS:
        return [list(av[2])]  # type: ignore[index]
    if op is C.SUBPATTERN:
        return [list(av[-1])]  # type: ignore[index]
    if op is C.BRANCH:
        return [list(alt) for alt in av[1]]  # type: ignore[index]
    if op in (C.ASSERT, C.ASSERT_NOT):
        return []
    return []


def _first(seq: list, icase: bool) -> tuple[frozenset[str], bool]:
    """Characters a match of ``seq`` can start with, and whether it can match empty."""
    out: set[str] = set()
    for op, av in seq:
        single = _chars(op, av, icase)
        if single is not None:
            return frozenset(out | single), False
        if op in ZERO_WIDTH:
            continue
        subs = _children(op, av)
        if not subs:
            continue
        nullable = op in REPEATS and av[0] == 0  # type: ignore[index]
        for sub in subs:
            first, empty = _first(sub, icase)
            out |= first
            nullable = nullable or empty
        if not nullable:
            return frozenset(out), False
    return frozenset(out), True


def _unbounded(op: object, av: object) -> bool:
    return op in REPEATS and av[1] == C.MAXREPEAT  # type: ignore[index]


# -- the checks -------------------------------------------------------------------------
def problems(pattern: str | bytes, flags: int = 0) -> list[str]:
    """What makes ``pattern`` super-linear, as short phrases (empty if nothing found)."""
    tree = sre_parse.parse(pattern, flags)
    icase = bool(tree.state.flags & re.IGNORECASE)
    found: list[str] = []
    _walk(list(tree), icase, inside_repeat=False, found=found)
    return found


def _walk(seq: list, icase: bool, inside_repeat: bool, found: list[str]) -> None:
    _adjacent(seq, icase, found)
    for op, av in seq:
        if _unbounded(op, av) and inside_repeat:
            found.append("nested quantifier")
        if op is C.BRANCH and inside_repeat:
            starts = [_first(list(alt), icase) for alt in av[1]]
            if any(empty for _, empty in starts):
                found.append("empty alternative in a repeat")
            for i, (a, _) in enumerate(starts):
                if any(a & b for b, _ in starts[i + 1 :]):
                    found.append("overlapping alternation in a repeat")
                    break
        repeating = op in REPEATS and av[1] > 1  # type: ignore[index]
        for sub in _children(op, av):
            _walk(sub, icase, inside_repeat or repeating, found)


def _adjacent(seq: list, icase: bool, found: list[str]) -> None:
    """An unbounded repeat, then only characters it accepts, then an overlapping one."""
    for i, (op, av) in enumerate(seq):
        if not _unbounded(op, av):
            continue
        accepts = _all_chars(list(av[2]), icase)
        for op2, av2 in seq[i + 1 :]:
            if op2 in ZERO_WIDTH:
                continue
            if _unbounded(op2, av2) and accepts & _all_chars(list(av2[2]), icase):
                found.append("adjacent quantifiers over overlapping characters")
                break
            nullable = op2 in REPEATS and av2[0] == 0
            if not nullable and not _all_chars([(op2, av2)], icase) <= accepts:
                break


# -- the source scan --------------------------------------------------------------------
def _flags(node: ast.AST | None) -> int | None:
    if node is None:
        return 0
    try:
        return int(eval(compile(ast.Expression(node), "<flags>", "eval"), {"re": re}))  # noqa: S307
    except Exception:
        return None


def scan_source(source: str, name: str) -> list[str]:
    """``file:line: problem`` for each flagged regex call in ``source``."""
    lines = source.splitlines()
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.func.attr in RE_FUNCS
            and node.args
        ):
            continue
        start, end = node.lineno, node.end_lineno or node.lineno
        if any(MARKER in line for line in lines[max(0, start - 2) : end]):
            continue
        arg = node.args[0]
        flag_arg = next((k.value for k in node.keywords if k.arg == "flags"), None)
        if flag_arg is None and node.func.attr in ("compile", "search", "match", "fullmatch"):
            flag_arg = node.args[1] if len(node.args) > 1 else None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str | bytes)):
            out.append(f"{name}:{start}: pattern is not a literal, cannot be audited")
            continue
        flags = _flags(flag_arg)
        for problem in sorted(set(problems(arg.value, flags or 0))):
            out.append(f"{name}:{start}: {problem}: {arg.value!r:.80}")
    return out


def scan_tree(*roots: str) -> list[str]:
    return [
        finding
        for root in roots
        for path in sorted((ROOT / root).rglob("*.py"))
        for finding in scan_source(path.read_text(), str(path.relative_to(ROOT)))
    ]


# -- tests ------------------------------------------------------------------------------
def test_no_super_linear_regex_in_scanned_source():
    findings = scan_tree(*SCANNED)
    assert not findings, "super-linear regex (rewrite, use re2, or mark):\n" + "\n".join(findings)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(\s*,)*x",
        r"(?:\w+\s?)*$",
        r"(a|a)*b",
        r"(a|ab)*c",
        r"(x|)*y",
        r"<meta[^>]+charset\s*=",
        r"""<meta[^>]+(?:http-equiv=["']?content-language|property=["']og:locale)["']?[^>]*"""
        r"""content=["']?([A-Za-z]{2,3})""",
        r"<html\b[^>]*?\blang\s*=",
        r".*a.*b",
        rb"\s+\w*\s+x",
    ],
)
def test_scanner_flags_super_linear_shapes(pattern):
    assert problems(pattern, re.I)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\s+",
        r"\w+",
        r"<[^>]*>?",
        r"<!\s*DOCTYPE([^>\[]*)(\[)?",
        r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)",
        r"^(\d+)\s*([smhdw])$",
        r"(?:ab|cd)+",
        r"[\x01-\x08\x0b\x0c\x0e-\x1f]",
        r"\d{1,3}(?:\.\d{1,3}){3}",
    ],
)
def test_scanner_passes_linear_shapes(pattern):
    assert problems(pattern, re.I) == []


def test_scanner_names_file_and_line_and_honours_the_marker():
    source = "import re\n\nX = re.compile(r'(a+)+b')\nY = re.compile(PATTERN)\n"
    assert scan_source(source, "m.py") == [
        "m.py:3: nested quantifier: '(a+)+b'",
        "m.py:4: pattern is not a literal, cannot be audited",
    ]
    marked = (
        "import re\n# regex-audit: linear because b never follows a\nX = re.compile(r'(a+)+b')\n"
    )
    assert scan_source(marked, "m.py") == []
