"""Cut a clause into sentences, the unit the categories are decided on.

The annotation guide's test is sentence-level ("a whole sentence devoted to it", "a task or target of its
own"), so the model scores each sentence and a clause gets a category from the sentences that carry it.

A sentence ends after 。！？!?; or ；; (plans list their tasks with semicolons), together with any closing
quotes or brackets that follow, and at a closing quote right after such a mark ("…教育。”"). Nothing else
inside quotes (“…”, 「…」, ‘…’, 《…》) or parentheses ends a sentence (an opening quote that is never closed
guards nothing), and "." never does: "5.27万", "1.5%" and "(1)" stay whole. A piece shorter than MIN_CHARS
characters (a stray "确保;") joins the sentence before it (a first one, the next).

    split_sentences("推进学前教育普及普惠发展。新建幼儿园5.27万平方米;")
    # [Sentence(text="推进学前教育普及普惠发展。", start=0, end=13), Sentence(text="新建幼儿园5.27万平方米;", …)]
"""

from __future__ import annotations

from dataclasses import dataclass

ENDERS = set("。！？!?；;")
OPENERS = {"“": "”", "「": "」", "‘": "’", "《": "》", "『": "』", "(": ")", "（": "）", "[": "]", "【": "】"}
CLOSERS = set(OPENERS.values()) | {'"', "'"}
# Shorter pieces are no sentence of their own ("确保;" "。"); they join the one before.
MIN_CHARS = 6


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # [start, end) character offsets in the clause text
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of `text` in order, with their offsets; whitespace between sentences is dropped.

    Every character of `text` but that whitespace belongs to exactly one sentence, so the offsets
    highlight the clause exactly. A text with no ending punctuation is one sentence.
    """
    bounds: list[tuple[int, int]] = []
    start, open_quotes, i, n = 0, [], 0, len(text)
    # An opener at i is closed later when its closer occurs after i: looked up, not searched for each opener.
    last_closer = {closer: text.rfind(closer) for closer in set(OPENERS.values())}
    while i < n:
        ch = text[i]
        ends_here = False
        if open_quotes and ch == open_quotes[-1]:
            open_quotes.pop()
            # "…教育。”" ends its sentence with the quote.
            ends_here = not open_quotes and i > 0 and text[i - 1] in ENDERS
        elif ch in OPENERS and last_closer[OPENERS[ch]] > i:
            open_quotes.append(OPENERS[ch])  # an opener never closed (messy text) guards nothing
        elif ch in ENDERS and not open_quotes:
            ends_here = True
        i += 1
        if ends_here:
            while i < n and (text[i] in ENDERS or text[i] in CLOSERS):
                i += 1
            bounds.append((start, i))
            start = i
    if start < n:
        bounds.append((start, n))
    return _merge_short(_trimmed(text, bounds), text)


def _trimmed(text: str, bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    result = []
    for start, end in bounds:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            result.append((start, end))
    return result


def _merge_short(bounds: list[tuple[int, int]], text: str) -> list[Sentence]:
    """Pieces under MIN_CHARS join the sentence before them (the first one joins the next)."""
    merged: list[list[int]] = []
    for start, end in bounds:
        if merged and (end - start < MIN_CHARS or merged[-1][1] - merged[-1][0] < MIN_CHARS):
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [Sentence(text[s:e], s, e) for s, e in merged]


def sentence_texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]
