"""Training rows written by the team in the style of real plans (data/written/*.jsonl).

Five seed plans taught the first model which categories travel together (finance on every kindergarten item,
teachers on every vocational one). Written rows break those pairs: kindergarten items with no money,
vocational items with no staff measure, money items about every subject, passing mentions that do not count,
and counterfactual edits of seed clauses (`made_from`). Each sentence is labelled by the same guideline.

They are training data only: every row is marked `source: "written"`, and evaluation, cv test folds and
threshold tuning never see them (training.data). A source line:

    {"id": "w1-0001", "style": "numbered", "level": "city", "year": 2016,
     "sentences": [{"text": "…。", "categories": ["preschool"]}, …], "categories": ["preschool"],
     "made_from": null, "note": "…"}
"""

from __future__ import annotations

from pathlib import Path

from clausemap.errors import InputFileError
from clausemap.fileio import read_jsonl_objects
from labels.rows import row_from, sentence_union

WRITTEN_DOC = "written"


def read_written_dir(folder: Path, taxonomy, known_clauses: set[str]) -> list[dict]:
    """Every *.jsonl under `folder` as dataset rows (sorted by id); errors name the file and line."""
    rows: dict[str, dict] = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        for number, raw in read_jsonl_objects(path, "written rows"):
            row = written_row(raw, taxonomy, known_clauses, path, number)
            if row["id"] in rows:
                raise InputFileError(path, f"id {row['id']!r} is used twice", number)
            rows[row["id"]] = row
    return [rows[key] for key in sorted(rows)]


def written_row(raw: dict, taxonomy, known_clauses: set[str], path, number: int) -> dict:
    """One validated dataset row: the text is the sentences joined, and the splitter must cut it back into
    exactly those sentences (so the model sees at inference the units it was trained on)."""
    from clausemap.clauses.sentences import split_sentences

    def fail(message: str):
        raise InputFileError(path, message, number)

    row_id, sentences = raw.get("id"), raw.get("sentences")
    if not isinstance(row_id, str) or not row_id:
        fail("missing 'id'")
    if not isinstance(sentences, list) or not sentences:
        fail(f"{row_id}: 'sentences' must be a non-empty list of {{text, categories}}")
    labelled = []
    for i, sentence in enumerate(sentences):
        text = sentence.get("text") if isinstance(sentence, dict) else None
        cats = sentence.get("categories") if isinstance(sentence, dict) else None
        if not isinstance(text, str) or not text.strip() or not isinstance(cats, list) or not cats:
            fail(f"{row_id}: sentences[{i}] needs a non-empty 'text' and 'categories'")
        labelled.append((text, cats))
    text = "".join(t for t, _ in labelled)
    cut = split_sentences(text)
    if [s.text for s in cut] != [t for t, _ in labelled]:
        fail(f"{row_id}: the sentence splitter cuts the text into {[s.text for s in cut]}, not the given sentences")
    made_from = raw.get("made_from") or None
    if made_from is not None and made_from not in known_clauses:
        fail(f"{row_id}: made_from {made_from!r} is not a clause of the dataset")
    sentence_rows = [{"text": s.text, "start": s.start, "end": s.end, "categories": cats}
                     for s, (_, cats) in zip(cut, labelled)]
    try:
        union = sentence_union((cats for _, cats in labelled), taxonomy)  # unknown ids: the Row names them
        return row_from({
            "id": row_id, "doc": WRITTEN_DOC, "text": text, "categories": raw.get("categories") or union,
            "sentences": sentence_rows, "source": "written", "made_from": made_from, "style": raw.get("style"),
            "level": raw.get("level"), "year": raw.get("year"), "note": raw.get("note"),
        }, taxonomy).as_dict()
    except ValueError as exc:
        fail(f"{row_id}: {exc}")
