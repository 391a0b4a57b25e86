"""Negation scope for concept mentions: NegEx (negspacy) on a blank spaCy English pipeline.

No statistical model is loaded (none can be downloaded here, and none is needed): spaCy's rule-based
tokenizer and sentencizer, our concept spans as entities, and negspacy's clinical NegEx termset with a
few additions common in eligibility lists ("negative", "non-", "free of", "must not").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

EXTRA_PRECEDING = ["negative", "non", "non-", "free of", "must not", "should not", "must not be", "not be",
                   "neither", "nor", "absent", "lack of", "no history of", "no evidence of", "no known"]
EXTRA_PSEUDO = ["not limited to", "no more than", "not more than", "no less than", "not less than",
                "not exceeding", "not to exceed", "no greater than", "not greater than", "not only"]
EXTRA_FOLLOWING = ["negative", "-negative", "not detected", "not detectable", "undetectable"]  # "HBsAg negative"
EXTRA_TERMINATION = ["but", "except", "other than", "unless", "however", "although", "whereas", ";", "with the exception"]


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


def negated_spans(text: str, spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each (start, end) character span of `text`, whether NegEx puts it in a negation's scope."""
    if not spans:
        return []
    nlp = _pipeline()
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
    result = [False] * len(spans)
    for ent in doc.ents:
        i = index_of.get((ent.start, ent.end))
        if i is not None:
            result[i] = bool(ent._.negex)
    return result
