"""Negation scope for concept mentions: NegEx (negspacy) on a blank spaCy English pipeline.

No statistical model is loaded (none can be downloaded here, and none is needed): spaCy's rule-based
tokenizer and sentencizer, our concept spans as entities, and negspacy's clinical NegEx termset with a
few additions common in eligibility lists ("negative", "non-", "free of", "must not").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

EXTRA_PRECEDING = ["negative", "non", "non-", "free of", "must not", "should not", "must not be", "not be",
                   "neither", "nor", "absent", "lack of", "no history of", "no evidence of", "no known"]
EXTRA_PSEUDO = ["not limited to", "no more than", "not more than", "no less than", "not less than",
                "not exceeding", "not to exceed", "no greater than", "not greater than", "not only"]
EXTRA_FOLLOWING = ["negative", "-negative", "not detected", "not detectable", "undetectable"]  # "HBsAg negative"
EXTRA_TERMINATION = ["but", "except", "other than", "unless", "however", "although", "whereas", ";", "with the exception",
                     # "women of childbearing potential without (not using) contraception, pregnancy or lactation":
                     # the cue negates the contraception; what the list names after it is excluded, not negated
                     "contraception", "contraceptive", "contraceptives", "birth control", "anticonception"]


@cache
def _pipeline():
    import spacy
    from negspacy.negation import Negex  # noqa: F401  (registers the "negex" factory)
    from negspacy.termsets import termset

    terms = termset("en_clinical")
    terms.add_patterns({"preceding_negations": EXTRA_PRECEDING, "pseudo_negations": EXTRA_PSEUDO,
                        "following_negations": EXTRA_FOLLOWING, "termination": EXTRA_TERMINATION})
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("negex", config={"neg_termset": terms.get_patterns(), "ent_types": [], "chunk_prefix": ["no"]})
    return nlp


_BRACKET = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
# a bracket with a negation cue of its own: "(negative pregnancy test)", "(HBeAg-positive or HBeAg-negative)"
_CUE = re.compile(r"\b(?:no|not|non|negative|without|free\s+of|absent|neither|nor|never|disproved|ruled\s+out)\b"
                  r"|-negative\b", re.I)


def negated_spans(text: str, spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each (start, end) character span of `text`, whether NegEx puts it in a negation's scope.

    A bracket with a negation cue of its own is a scope of its own: "Pregnancy or nursing (negative pregnancy
    test)" names how the exclusion is checked, and its "negative" does not negate what stands outside, nor does
    a cue outside reach in. A bracket without a cue ("negative pregnancy test (urine hCG)") restates or names
    what stands before it and shares its scope.
    """
    if not spans:
        return []
    brackets = [m.span() for m in _BRACKET.finditer(text) if _CUE.search(m.group(0))]
    scopes: dict[int, list[int]] = {}  # bracket index (-1: outside every bracket) -> indices of spans
    for i, (start, _) in enumerate(spans):
        scopes.setdefault(next((b for b, (s0, e0) in enumerate(brackets) if s0 < start < e0), -1), []).append(i)
    result = [False] * len(spans)
    for b, indices in scopes.items():
        if b < 0:  # outside: every bracket blanked (same length, so offsets hold)
            view = _BRACKET.sub(lambda m: " " * len(m.group(0)) if _CUE.search(m.group(0)) else m.group(0), text)
        else:
            s0, e0 = brackets[b]
            view = " " * s0 + text[s0:e0] + " " * (len(text) - e0)
        for i, negated in zip(indices, _negex(view, [spans[i] for i in indices]), strict=True):
            result[i] = negated
    return result


# "non-" glued to a word negates that word only: "non-MR compatible implants, pregnancy or claustrophobia" lists
# pregnancy as an exclusion; NegEx would carry the cue's scope to the end of the sentence
_GLUED_NON = re.compile(r"\bnon-(?=\w)", re.I)


def _negex(text: str, spans: Sequence[tuple[int, int]]) -> list[bool]:
    nlp = _pipeline()
    glued = {m.end() for m in _GLUED_NON.finditer(text)}
    text = _GLUED_NON.sub(lambda m: " " * len(m.group(0)), text)  # same length: offsets hold
    doc = nlp.make_doc(text)
    entities, index_of = [], {}
    taken: set[int] = set()
    for i, (start, end) in enumerate(spans):
        span = doc.char_span(start, end, label="CONCEPT", alignment_mode="expand")
        if span is None or any(t in taken for t in range(span.start, span.end)):
            continue
        taken.update(range(span.start, span.end))
        entities.append(span)
        index_of[(span.start, span.end)] = i
    doc.ents = sorted(entities, key=lambda s: s.start)
    for _, component in nlp.pipeline:
        doc = component(doc)
    result = [start in glued for start, _ in spans]  # "non-pregnant": the cue's own word
    for ent in doc.ents:
        i = index_of.get((ent.start, ent.end))
        if i is not None:
            result[i] = result[i] or bool(ent._.negex)
    return result
