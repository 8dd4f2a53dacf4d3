"""Names compared as a person reads them: one supplier under its spellings, and its look-alikes.

A fraudster who wants a transfer to « Orange Business » without the « nouvel
IBAN » hold types « Оrаngе Business » (Cyrillic О, а, е): it reads the same,
and it is another text. So names are compared on what they look like:

1. the Unicode confusable **skeleton** (UTS #39: each character replaced by
   the prototype of its class in Unicode's ``confusables.txt``, as the
   maintained ``confusable-homoglyphs`` package ships it), before and after
   the compatibility decomposition: Cyrillic « а », Greek « ο » and lunate
   « Ϲ », small capital « ᴏ », the digit « 0 » and the letter « o » become
   one; « m » and « rn » too; « i » and « l » (the capital « I » is a « l »);
2. NFKD, accents and case dropped: full-width « Ｏｒａｎｇｅ », mathematical
   « 𝐎𝐫𝐚𝐧𝐠𝐞 », « é » and « e » are one letter;
3. what is left outside ASCII transliterated (``anyascii``, as for SEPA
   names): a name in Greek, Arabic or Chinese keeps its own key instead of
   none at all;
4. words of letters and digits, a name spelt letter by letter one word
   (« E.D.F. » is « edf »), legal forms (SARL, SAS…) and French articles
   left out (« Laiterie des Prés SARL » is « lalterle pres »).

Two names are the same company's unless « clearly different » (see
:func:`names_match`). And a word that mixes scripts (Latin letters with
Cyrillic or Greek ones) is suspicious in itself, whatever it resembles:
:func:`mixed_script_words` says which letters, so that a person sees them.
Scripts that are written together (Han with Hiragana and Katakana, Han with
Hangul) are one writing, as UTS #39 resolves them.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from anyascii import anyascii
from confusable_homoglyphs import categories, confusables

LEGAL_FORMS = frozenset(
    ["sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "scs", "sca", "scop", "scp", "scm", "sel", "selarl",
     "selas", "earl", "gaec", "gie", "ei", "eirl", "ets", "etablissement", "etablissements", "societe", "ste",
     "cie", "compagnie"]
)

ARTICLES = frozenset(["de", "du", "des", "d", "la", "le", "les", "l", "et", "au", "aux"])

# Two words read alike at this ratio or more (difflib): a typo, an extra letter.
SIMILAR_WORDS = 0.8

# Marks the package puts around right-to-left characters so that its data prints well.
_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")

# Characters that join no script of their own: digits, punctuation, combining accents.
_NO_SCRIPT = frozenset({"COMMON", "INHERITED"})

# Scripts written together in one word (UTS #39's resolved script sets, Jpan, Kore, Hanb).
_WRITTEN_TOGETHER = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "HANGUL"}),
    frozenset({"HAN", "BOPOMOFO"}),
)

SCRIPT_NAMES_FR = {
    "LATIN": "latine", "CYRILLIC": "cyrillique", "GREEK": "grecque", "ARMENIAN": "arménienne",
    "HEBREW": "hébraïque", "ARABIC": "arabe", "CHEROKEE": "cherokee", "COPTIC": "copte",
}


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character → the prototype of its class (``confusables.txt``'s mapping).

    The package keeps each line of ``confusables.txt`` as a pair of entries, one each way. A
    source character is on one line only (as a source: prototypes are never sources), so it has
    one entry; a prototype has one per source. A lone pair reads the same both ways: the ASCII
    side, else the shorter, else the smaller text is taken as the prototype, which is all that
    equality needs.
    """
    data = {key.translate(_DIRECTION_MARKS): [entry["c"].translate(_DIRECTION_MARKS) for entry in entries]
            for key, entries in confusables.confusables_data.items()}
    mapping = {}
    for character, targets in data.items():
        if len(character) != 1 or len(targets) != 1 or targets[0] == character:
            continue
        target = targets[0]
        if len(data.get(target, ())) == 1 and _preferred(character) < _preferred(target):
            continue  # a lone pair, of which this character is the prototype
        mapping[character] = target
    return mapping


def _preferred(text: str) -> tuple[bool, int, str]:
    return (not text.isascii(), len(text), text)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=4096)
def skeleton(name: str) -> str:
    """What ``name`` looks like, in ASCII: « Оrаngе » and « Orange » (Cyrillic О, а, е) give the same."""
    prototypes = _prototypes()
    # As UTS #39 does, each character goes to its prototype before any compatibility decomposition, which
    # would part look-alikes (the lunate sigma « Ϲ », a « C », decomposes to « Σ »); then again after it
    # (full-width and mathematical letters). Case is not a disguise, but folding it first would part
    # look-alike capitals (Cyrillic « М » folds to « м », which looks like a small capital, not like « m »):
    # letters outside ASCII go to their prototype first, then everything is folded and mapped.
    canonical = unicodedata.normalize("NFD", name or "")
    first = "".join(ch if ch.isascii() else prototypes.get(ch, ch) for ch in canonical)
    decomposed = unicodedata.normalize("NFKD", first)
    latin = "".join(ch if ch.isascii() else prototypes.get(ch, ch) for ch in decomposed)
    mapped = "".join(prototypes.get(ch, ch) for ch in _plain(latin))
    # The capital « I » is the small « l » (« lBM » for « IBM »): once case is folded, « i » and « l » are
    # one letter, whatever case each was typed in.
    return anyascii(_plain(mapped)).casefold().replace("i", "l")


@lru_cache(maxsize=4096)
def all_words(name: str) -> tuple[str, ...]:
    """The words of ``name``'s skeleton (« & » read as « et »), a name spelt letter by letter read as one word:
    « E.D.F. » is « edf », « D U P O N T » is « dupont » (two single letters or more in a row)."""
    words = re.findall(r"[0-9a-z]+", skeleton((name or "").replace("&", " et ")))
    merged: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        merged.extend(["".join(run)] if len(run) > 1 else run)
        run = []
        if word:
            merged.append(word)
    return tuple(merged)


@lru_cache(maxsize=4096)
def name_words(name: str) -> tuple[str, ...]:
    """The words that tell a company: legal forms and articles left out (unless nothing else is left).

    An article precedes a word: a last word that reads like one is kept (« Fournisseur 1 » is not
    « Fournisseur l' », which would make it the same supplier as every « Fournisseur … »).
    """
    words = all_words(name)
    forms, articles = _left_out()
    last = len(words) - 1
    kept = tuple(word for i, word in enumerate(words)
                 if word not in forms and not (word in articles and i < last))
    return kept or words


@cache
def _left_out() -> tuple[frozenset[str], frozenset[str]]:
    """Legal forms and articles as skeletons (« etablissements » has an « m », which becomes « rn »)."""
    return frozenset(skeleton(word) for word in LEGAL_FORMS), frozenset(skeleton(word) for word in ARTICLES)


def name_key(name: str) -> str:
    """« Laiterie des Prés SARL » → « lalterle pres »: how one supplier is recognised under its spellings."""
    return " ".join(name_words(name))[:200]


@lru_cache(maxsize=16384)
def names_match(first: str, second: str) -> bool:
    """Whether two names may be the same company's.

    Alike when, once reduced, they are equal, one's words are all in the
    other's (« Dupuis » and « Minoterie Dupuis »), they are the same letters
    spaced otherwise, or each word reads alike at 80 % or more (a typo).
    Names with no letter or digit at all are never alike.
    """
    a, b = name_words(first), name_words(second)
    if not a or not b:
        return False
    if a == b or set(a) <= set(b) or set(b) <= set(a) or "".join(all_words(first)) == "".join(all_words(second)):
        return True
    return len(a) == len(b) and _each_word_alike(a, b) and _each_word_alike(b, a)


def same_legal_name(first: str, second: str) -> bool:
    """Whether two names are one company's legal name: the same words once reduced (legal forms and articles
    left out, accents and case ignored), in any order (« TRANSPORTS VICTOR » and « Victor Transports SARL »).

    For vouching for a SIRET, where :func:`names_match`'s leniency (a subset of the words, a typo) would let
    « Victor » or « Transports Vector » stand for « TRANSPORTS VICTOR »."""
    a, b = name_words(first), name_words(second)
    return bool(a) and (sorted(a) == sorted(b) or "".join(a) == "".join(b))


def _each_word_alike(words: tuple[str, ...], others: tuple[str, ...]) -> bool:
    return all(any(_alike(word, other) for other in others) for word in words)


@lru_cache(maxsize=16384)
def _alike(word: str, other: str) -> bool:
    """difflib's ratio ≥ SIMILAR_WORDS; its cheap upper bounds first rule most pairs out."""
    matcher = difflib.SequenceMatcher(None, word, other)
    return (matcher.real_quick_ratio() >= SIMILAR_WORDS and matcher.quick_ratio() >= SIMILAR_WORDS
            and matcher.ratio() >= SIMILAR_WORDS)


# --- scripts mixed in one word -----------------------------------------------------------------


@dataclass(frozen=True)
class MixedWord:
    """A word whose letters come from several scripts; ``marked`` brackets the minority's letters."""

    word: str
    marked: str
    scripts: tuple[str, ...]  # French names, the word's main script first
    odd_letters: tuple[str, ...]

    def sentence(self) -> str:
        letters = ", ".join(f"« {letter} »" for letter in self.odd_letters)
        others = " et ".join(f"écriture {script}" for script in self.scripts[1:])
        return (f"« {self.marked} » mêle des lettres d'écriture {self.scripts[0]} et d'{others} : "
                f"{letters} (entre crochets) ne sont pas des lettres {_plural(self.scripts[0])}.")


def _plural(adjective: str) -> str:
    return adjective if adjective.endswith("s") else f"{adjective}s"


def _script(ch: str) -> str:
    try:
        return categories.alias(ch)
    except Exception:  # a character the package's table does not cover: no script to compare
        return "COMMON"


def _resolved(scripts: set[str]) -> bool:
    """Whether these scripts make one writing (a single one, or a set written together)."""
    return len(scripts) <= 1 or any(scripts <= together for together in _WRITTEN_TOGETHER)


@lru_cache(maxsize=4096)
def mixed_script_words(name: str) -> tuple[MixedWord, ...]:
    """The words of ``name`` that mix scripts (« Оrаngе »: Latin and Cyrillic); empty for a plain name.

    Compatibility forms count as what they are (full-width « Ｏ » is Latin); digits, punctuation and
    accents belong to every script.
    """
    found = []
    for word in unicodedata.normalize("NFKC", name or "").split():
        letters = [(ch, _script(ch)) for ch in word]
        scripts = [script for _, script in letters if script not in _NO_SCRIPT]
        if _resolved(set(scripts)):
            continue
        counts: dict[str, int] = {}
        for script in scripts:
            counts[script] = counts.get(script, 0) + 1
        main = max(counts, key=lambda script: (counts[script], script == "LATIN"))
        odd = [ch for ch, script in letters if script not in _NO_SCRIPT and script != main]
        marked = "".join(f"[{ch}]" if script not in _NO_SCRIPT and script != main else ch for ch, script in letters)
        names = [main, *sorted(set(scripts) - {main})]
        found.append(MixedWord(word, marked, tuple(SCRIPT_NAMES_FR.get(s, s.lower()) for s in names),
                               tuple(dict.fromkeys(odd))))
    return tuple(found)
