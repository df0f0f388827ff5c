"""The one inference path the service, `label push` and the Label Studio ML backend share.

    pipeline = load_pipeline("models/default")
    result = pipeline.classify(["推进学前教育普及普惠发展……"])[0]
    result.labels          # ["preschool"]
    result.departments[0]  # DepartmentSuggestion(name="基础教育科", score=…, lead=True, evidence=[…])

Categories come from the model artifact (training.inference.predictor), with the taxonomy it ships; departments from a
DepartmentSuggester fitted on the bureau's history (its past tasks with their sections: its annotated rows and its
tables), using the model's encoder for similarity. `ClassifyPipeline`
is what the service needs of a pipeline.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from clausemap.errors import InputFileError
from clausemap.settings import RANKED_SECTIONS
from labels.catalogue import Catalogue, find_catalogue
from labels.taxonomy import Taxonomy, load_taxonomy
from training.inference.artifact import TAXONOMY_FILE
from labels.rows import read_rows, write_rows
from training.departments.suggester import DepartmentSuggester, DepartmentSuggestion, SuggesterWeights
from training.inference.predictor import Evidence, Predictor, Runtime

# Optional files inside a model artifact. history.jsonl: the annotated rows with departments the model was trained
# alongside (without it, data/dataset.jsonl's; the file keeps its name, older artifacts have it); departments.yaml:
# the catalogue the model ships with.
HISTORY_FILE = "history.jsonl"
CATALOGUE_FILE = "departments.yaml"


@dataclass
class ClauseResult:
    text: str
    scores: dict[str, float]  # every category id -> probability
    labels: list[str]  # the categories given
    departments: list[DepartmentSuggestion] = field(default_factory=list)  # best first; one marked lead
    # Each specific category given -> the sentences of the clause that decided it, best first.
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)


class ClassifyPipeline(Protocol):
    """What the service needs of a pipeline (ClausePipeline, or the service's one-thread wrapper of it)."""

    @property
    def model_version(self) -> str: ...

    @property
    def taxonomy(self) -> Taxonomy: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def thresholds(self) -> dict[str, float]: ...

    @property
    def info(self) -> dict[str, Any]: ...

    def classify(self, texts: Sequence[str], catalogue: str | None = None) -> list[ClauseResult]: ...

    def for_catalogue(self, catalogue: str | None) -> ClassifyPipeline: ...

    def history_size(self, catalogue: Catalogue, owners: Mapping[str, str] | None = None) -> int: ...


class ClausePipeline:
    """Categories and department suggestions for clause texts."""

    def __init__(self, predictor: Predictor, suggester: DepartmentSuggester, taxonomy: Taxonomy,
                 annotated: AnnotatedRows):
        self.predictor = predictor
        self.suggester = suggester
        self.taxonomy = taxonomy
        self.annotated = annotated
        self._others: dict[str, tuple[tuple, ClausePipeline]] = {}  # catalogue id -> (version, pipeline)
        self._lock = threading.Lock()

    @property
    def catalogue(self) -> Catalogue:
        return self.suggester.catalogue

    @property
    def model_version(self) -> str:
        return self.predictor.model_version

    @property
    def thresholds(self) -> dict[str, float]:
        return self.predictor.thresholds

    @property
    def info(self) -> dict[str, Any]:
        """The model's description, and where the annotated rows of the suggestions' history came from (the key
        `history` is the API's)."""
        return {**self.predictor.info, "history": {"source": self.annotated.source, "rows": len(self.annotated.rows)}}

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config of the model (retraining reuses it)."""
        return dict(self.predictor.meta.config)

    def classify(self, texts: Sequence[str], catalogue: str | None = None) -> list[ClauseResult]:
        """Categories and the sections of catalogue `catalogue` (an id; default: this pipeline's) for each text."""
        texts = list(texts)
        return self.classify_each(texts, [catalogue] * len(texts))

    def classify_each(self, texts: Sequence[str], catalogues: Sequence[str | None]) -> list[ClauseResult]:
        """Like `classify`, with a catalogue per text (requests of several bureaus merged into one batch): the
        model runs once over all texts, each bureau's suggester over its own."""
        texts = list(texts)
        if not texts:
            return []
        bureaus = {ref: self.for_catalogue(ref) for ref in dict.fromkeys(catalogues)}
        if any(b.suggester.history for b in bureaus.values()):  # similarity to past clauses needs the embeddings
            predictions, embeddings = self.predictor.predict_and_embed(texts)
        else:
            predictions, embeddings = self.predictor.predict(texts), None
        departments: list = [None] * len(texts)
        for ref, bureau in bureaus.items():
            rows = [i for i, c in enumerate(catalogues) if c == ref]
            ranked = bureau.suggester.suggest([texts[i] for i in rows], [predictions[i].scores for i in rows],
                                              embeddings[rows] if embeddings is not None else None)
            for i, suggestions in zip(rows, ranked, strict=True):
                departments[i] = suggestions
        return [
            ClauseResult(text, dict(p.scores), list(p.labels), ranked, dict(p.evidence))
            for text, p, ranked in zip(texts, predictions, departments, strict=True)
        ]

    def history_size(self, catalogue: Catalogue, owners: Mapping[str, str] | None = None) -> int:
        """How many past tasks (distinct texts) the suggester of `catalogue` learns from: the bureau's history as
        fit_suggester takes it. owners: labels.bureaus.plan_owners(), when the caller has it already."""
        mine, own = bureau_history(catalogue, self.annotated, catalogue.id == self.catalogue.id, owners)
        return len({self.annotated.rows[i]["text"] for i in mine} | {row["text"] for row in own})

    def for_catalogue(self, catalogue: Catalogue | str | Path | None) -> ClausePipeline:
        """The same model with another bureau's catalogue (by object, path or id) and that bureau's history;
        built once per catalogue, and again when its history file has changed or this process rewrote the
        catalogue (labels.catalogue.save_catalogue). Catalogue files are read once per process (cached by path),
        so one edited by hand counts after a restart."""
        if catalogue is None:
            return self
        if not isinstance(catalogue, Catalogue):
            catalogue = find_catalogue(catalogue)
        if catalogue == self.catalogue:
            return self
        from labels.bureaus import history_version

        key = (catalogue.id, history_version(catalogue.id))
        with self._lock:
            built = self._others.get(catalogue.id)
            if built is None or built[0] != key or built[1].catalogue != catalogue:
                suggester = fit_suggester(catalogue, self.predictor, self.annotated, default=False)
                built = (key, ClausePipeline(self.predictor, suggester, self.taxonomy, self.annotated))
                self._others[catalogue.id] = built
            return built[1]


@dataclass(frozen=True)
class AnnotatedRows:
    """The annotated rows with departments loaded for the suggesters, every bureau's, and their encoder embeddings
    (computed once, shared: each catalogue's suggester takes its bureau's rows as part of its history)."""

    rows: list[dict]
    embeddings: np.ndarray | None = None
    source: str = "none"
    scores: list[dict[str, float]] | None = None  # the rows' predicted category scores (for choosing the blend)


def load_pipeline(
    model_dir: str | Path,
    catalogue: Catalogue | str | Path | None = None,
    annotated: Sequence[Mapping] | str | Path | None = None,
    fallback_annotated: str | Path | None = None,
    runtime: Runtime = "auto",
    cache_dir: Path | None = None,
) -> ClausePipeline:
    """Load the model artifact and fit the department suggester.

    catalogue: a Catalogue, a file path or a catalogue id; default the artifact's departments.yaml, else
    labels/catalogues/chengde.yaml. annotated: dataset rows (or a JSONL path) with departments; default the
    artifact's history.jsonl, else `fallback_annotated` when that file exists, else none (catalogue-only
    suggestions, or the bureau's tables). The pipeline's `info["history"]` says which it was. runtime:
    training.inference.predictor.load_predictor's. cache_dir: where the model's scores and embeddings of the
    annotated rows are kept between starts (training.inference.annotated_cache; none: computed every time).
    """
    from training.inference.annotated_cache import scores_and_embeddings
    from training.inference.predictor import load_predictor

    model_dir = Path(model_dir)
    predictor = load_predictor(model_dir, runtime)
    if catalogue is None and (model_dir / CATALOGUE_FILE).is_file():
        catalogue = model_dir / CATALOGUE_FILE
    if not isinstance(catalogue, Catalogue):
        catalogue = find_catalogue(catalogue)
    rows, source = annotated_rows(model_dir, annotated, fallback_annotated)
    texts = [r["text"] for r in rows]
    scores, embeddings = scores_and_embeddings(predictor, texts, cache_dir) if rows else ([], None)
    annotated = AnnotatedRows(rows, embeddings, source, scores)
    taxonomy = model_taxonomy(model_dir, predictor)
    return ClausePipeline(predictor, fit_suggester(catalogue, predictor, annotated), taxonomy, annotated)


def model_taxonomy(model_dir: Path, predictor: Predictor) -> Taxonomy:
    """The taxonomy the model was trained on (shipped in the artifact; older artifacts: the default one, which
    must then have the model's labels)."""
    shipped = model_dir / TAXONOMY_FILE
    taxonomy = load_taxonomy(shipped if shipped.is_file() else None)
    if taxonomy.ids != predictor.labels or taxonomy.fallback_id != predictor.fallback_id:
        raise InputFileError(model_dir, f"the model's labels {predictor.labels} are not those of the taxonomy "
                                        f"{taxonomy.ids}; retrain it with the current taxonomy")
    return taxonomy


def fit_suggester(catalogue: Catalogue, predictor: Predictor, annotated: AnnotatedRows, default: bool = True
                  ) -> DepartmentSuggester:
    """A suggester over `catalogue` that learns from that bureau's history only, its similarity from the predictor's
    encoder: the annotated rows that are the bureau's (labels.bureaus.belongs; rows of no known bureau count for the
    `default` catalogue, the one the model was loaded with) and the tasks of the bureau's own tables."""
    mine, own = bureau_history(catalogue, annotated, default)
    rows = [annotated.rows[i] for i in mine]
    parts = [annotated.embeddings[mine]] if mine else []  # loaded rows come with their embeddings and scores
    scores = [annotated.scores[i] for i in mine] if annotated.scores is not None else [None] * len(mine)
    if own:
        predictions, vectors = predictor.predict_and_embed([row["text"] for row in own])
        parts.append(np.asarray(vectors, dtype=np.float32))
        scores += [dict(p.scores) for p in predictions]
    embeddings = np.concatenate(parts) if parts else None
    weights = SuggesterWeights(max_suggestions=RANKED_SECTIONS)
    return DepartmentSuggester(catalogue, embed=predictor.embed, weights=weights).fit(rows + own, embeddings, scores)


def bureau_history(catalogue: Catalogue, annotated: AnnotatedRows, default: bool,
                   owners: Mapping[str, str] | None = None) -> tuple[list[int], list[dict]]:
    """A bureau's history: the positions of the annotated rows that are the bureau's (labels.bureaus.belongs; rows
    of no known bureau count for the `default` catalogue), and the tasks of its own tables not among them."""
    from labels.bureaus import belongs, plan_owners, read_history

    owners = plan_owners() if owners is None else owners
    mine = [i for i, row in enumerate(annotated.rows) if belongs(row, catalogue, default, owners)]
    known = {annotated.rows[i]["text"] for i in mine}
    return mine, [row for row in read_history(catalogue.id) if row["text"] not in known]


def annotated_rows(model_dir: Path, annotated: Sequence[Mapping] | str | Path | None = None,
                   fallback: str | Path | None = None) -> tuple[list[dict], str]:
    """The annotated rows (with departments) the suggesters learn from, and where they came from. A file is read
    as every row file is (labels.rows.read_rows: a bad row names the file and line)."""
    if annotated is not None and not isinstance(annotated, (str, Path)):
        return [dict(r) for r in annotated if r.get("departments")], "given rows"
    if annotated is not None:
        path = Path(annotated)
    elif (model_dir / HISTORY_FILE).is_file():
        path = model_dir / HISTORY_FILE
    elif fallback is not None and Path(fallback).is_file():
        path = Path(fallback)
    else:
        return [], "none"
    return [r.as_dict() for r in read_rows(path, "annotated rows") if r.departments], str(path)


def write_annotated_rows(model_dir: str | Path, rows: Sequence[Mapping], taxonomy=None) -> int:
    """Store the rows that have departments in an artifact (its history.jsonl), so it suggests without data/
    (returns the count); each is checked as a labels.rows.Row against `taxonomy` (default: labels/taxonomy.yaml)."""
    kept = [r for r in rows if r.get("departments")]
    try:
        write_rows({Path(model_dir) / HISTORY_FILE: kept}, taxonomy)
    except ValueError as exc:
        raise InputFileError(Path(model_dir) / HISTORY_FILE, f"cannot write the annotated rows: {exc}") from None
    return len(kept)
