"""Fine-tune a BERT for multi-label classification with the HF Trainer (sigmoid outputs, weighted BCE).

Runs unchanged on one CPU, one GPU or several (`accelerate launch` / `torchrun`): the Trainer handles the
devices; only the main process writes the model.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clausemap.errors import InputFileError
from training.data import Example, label_matrix
from training.kinds.encoders import resolve_pretrained
from training.inference.artifact import ARTIFACT_FILE
from training.inference.predictor import Predictor, Runtime
from training.kinds import FitJob, ModelKind, ModelSection, register
from training.metrics import decide, multilabel_report, tune_thresholds
from training.kinds.onnx import OnnxModel, cpu_threads, export_artifact, export_onnx, exported_file

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class RandomBert(BaseModel):
    """A small randomly initialised BERT whose character vocabulary is built from the training texts."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(32, gt=0)
    num_hidden_layers: int = Field(2, gt=0)
    num_attention_heads: int = Field(2, gt=0)
    intermediate_size: int = Field(64, gt=0)
    # BERT's 0.02 suits width 768; a narrow model trained from scratch needs ~1/sqrt(width) or it barely learns.
    initializer_range: float = Field(0.2, gt=0)
    min_char_count: int = Field(1, ge=1, description="characters seen fewer times map to [UNK]")

    @model_validator(mode="after")
    def _heads_divide_hidden(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        return self


class BertSection(ModelSection):
    kind: Literal["bert"]
    # A name from `clausemap models fetch` (e.g. m3e-small), a hub name (bert-base-chinese) or a local path.
    pretrained: str | None = None
    random_init: RandomBert | None = None
    max_length: int = Field(256, gt=8, le=512)
    # Train only the pooler and classifier on top of the frozen pretrained encoder.
    freeze_encoder: bool = False
    # After training, also write an ONNX export and its int8 quantization, which the predictor then serves.
    onnx: bool = True

    @model_validator(mode="after")
    def _one_source(self):
        if (self.pretrained is None) == (self.random_init is None):
            raise ValueError("give exactly one of model.pretrained and model.random_init")
        return self

    def pretrained_sources(self) -> list[str]:
        return [self.pretrained] if self.pretrained else []

    def token_limit(self) -> int | None:
        return self.max_length


def char_vocab(texts: list[str], min_count: int) -> dict[str, int]:
    """Special tokens, then every character seen at least `min_count` times, alone and as a `##` continuation
    (BERT's basic tokenizer splits CJK characters apart but keeps runs of digits and Latin letters together)."""
    counts = Counter(ch for text in texts for ch in text if not ch.isspace())
    chars = sorted(ch for ch, n in counts.items() if n >= min_count)
    tokens = SPECIAL_TOKENS + chars + [f"##{ch}" for ch in chars]
    return {token: i for i, token in enumerate(tokens)}


def build_model(model_cfg: BertSection, labels: list[str], train_texts: list[str]):
    """(tokenizer, model): a pretrained encoder with a new classifier head, or a small random BERT."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForSequenceClassification
    from transformers import BertTokenizerFast

    label_kwargs = dict(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification",
    )
    if model_cfg.random_init is not None:
        spec = model_cfg.random_init
        tokenizer = BertTokenizerFast(vocab=char_vocab(train_texts, spec.min_char_count), do_lower_case=False)
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=spec.hidden_size,
            num_hidden_layers=spec.num_hidden_layers,
            num_attention_heads=spec.num_attention_heads,
            intermediate_size=spec.intermediate_size,
            initializer_range=spec.initializer_range,
            max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id,
            **label_kwargs,
        )
        return tokenizer, BertForSequenceClassification(config)
    source = resolve_pretrained(model_cfg.pretrained)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(source, **label_kwargs)
    except OSError as exc:
        from clausemap.errors import ClausemapError

        raise ClausemapError(f"cannot load pretrained model {model_cfg.pretrained!r}: {exc}") from None
    return tokenizer, model


def freeze_encoder(model) -> None:
    """Leave only the pooler and the classifier trainable."""
    base = model.base_model
    for module in (base.embeddings, base.encoder):
        for param in module.parameters():
            param.requires_grad = False


def positive_weights(targets: np.ndarray, cap: float) -> np.ndarray:
    """neg/pos per label, in [1, cap]: rare labels count more in the loss. Labels never positive get 1."""
    pos = targets.sum(axis=0)
    neg = targets.shape[0] - pos
    weights = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    return np.clip(weights, 1.0, cap).astype(np.float32)


def fit(job: FitJob) -> dict:
    """Train and save model + tokenizer into the artifact (main process only); returns details for it."""
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, TrainingArguments, set_seed

    from training.kinds.hf_trainer import KeepBest, WeightedBCETrainer

    config, train_rows, held_rows, labels = job.config, job.train_units, job.held_units, job.labels
    fallback, out_dir, scratch_dir = job.fallback, job.out_dir, job.scratch_dir

    cfg, model_cfg = config.training, config.model
    set_seed(cfg.seed)
    tokenizer, model = build_model(model_cfg, labels, [ex.text for ex in train_rows])
    if model_cfg.freeze_encoder:
        freeze_encoder(model)

    def dataset(rows: list[Example]):
        ds = Dataset.from_dict({"text": [ex.text for ex in rows], "labels": label_matrix(rows, labels).tolist()})
        return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=model_cfg.max_length),
                      batched=True, remove_columns=["text"])

    train_targets = label_matrix(train_rows, labels)
    evaluate_epochs = bool(held_rows) and cfg.select_best
    fallback_index = labels.index(fallback)

    def compute_metrics(prediction) -> dict:
        scores = 1 / (1 + np.exp(-prediction.predictions))
        gold = prediction.label_ids
        thresholds = tune_thresholds(scores, gold, fallback_index, config.thresholds.default)
        return {"macro_f1": multilabel_report(gold, decide(scores, thresholds, fallback_index), labels)["macro_f1"]}

    args = TrainingArguments(
        output_dir=str(scratch_dir),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a share of all steps
        eval_strategy="epoch" if evaluate_epochs else "no",
        save_strategy="no",
        logging_strategy="epoch",
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        train_sampling_strategy="group_by_length",
        disable_tqdm=False,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    keep_best = KeepBest()
    trainer = WeightedBCETrainer(
        model=model,
        args=args,
        train_dataset=dataset(train_rows),
        eval_dataset=dataset(held_rows) if evaluate_epochs else None,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics if evaluate_epochs else None,
        callbacks=[keep_best],
        pos_weight=positive_weights(train_targets, cfg.pos_weight_cap),
    )
    trainer.train()
    keep_best.restore(trainer.model)
    if trainer.is_world_process_zero():
        trainer.model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    details = {
        "base_model": model_cfg.pretrained or "random_init",
        "best_epoch_macro_f1": keep_best.best if keep_best.state is not None else None,
    }
    if model_cfg.onnx and trainer.is_world_process_zero():
        details["onnx"] = export_onnx(out_dir)
    return details


class BertPredictor(Predictor):
    """A save_pretrained sequence classifier (sigmoid per label); transformers.pipeline loads it as well.

    Runs on ONNX Runtime with the artifact's int8 export when it has one (runtime "auto" or "onnx"), else on
    PyTorch in fp32 (runtime "torch", or no export)."""

    runtimes = ("onnx", "torch")

    def __init__(self, path: Path, meta, runtime: Runtime = "auto"):
        # Sentences per forward pass. Length-sorted batches of 8 carry little padding: seed plan 000's 172
        # sentences (8,834 tokens) pad to 9,264 in batches of 8 and to 10,720 in batches of 32, and ran ~20%
        # faster on ONNX Runtime int8 (2 cores, medians of 4 rounds).
        super().__init__(path, meta, batch_size=8)
        model_labels = _model_labels(path)
        if model_labels != self.labels:
            raise InputFileError(path, f"model labels {model_labels} differ from {ARTIFACT_FILE} {self.labels}")
        self.max_length = meta.max_length or BertSection.model_fields["max_length"].default
        onnx_file = exported_file(path, meta.details) if runtime != "torch" else None
        if runtime == "onnx" and onnx_file is None:
            raise InputFileError(path, "no ONNX export in this model; add one with `clausemap export "
                                       f"{path}`, or use the PyTorch runtime")
        self.backend = _OnnxBackend(onnx_file) if onnx_file else _TorchBackend(path)
        # On ONNX Runtime the tokenizer.json alone does: transformers (and the torch it imports) would add
        # seconds to every start and hundreds of MB to the process.
        fast = path / TOKENIZER_FILE
        if onnx_file and fast.is_file():
            self.tokenizer = JsonTokenizer(fast, self.max_length, _pad_token(path))
        else:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(path)

    @property
    def info(self) -> dict:
        return {**super().info, "runtime": self.backend.name}

    def _encode(self, batch: list[str]):
        if isinstance(self.tokenizer, JsonTokenizer):
            return self.tokenizer(batch)
        return self.tokenizer(batch, truncation=True, max_length=self.max_length, padding=True,
                              return_tensors=self.backend.tensors)

    def _scores(self, batch: list[str]) -> np.ndarray:
        return _sigmoid(self.backend.logits(self._encode(batch)))

    def _embed(self, batch: list[str]) -> np.ndarray:
        inputs = self._encode(batch)
        return _mean_pooled(self.backend.states(inputs), inputs["attention_mask"])

    def _scores_and_embed(self, batch: list[str]) -> np.ndarray:
        # One forward pass: the classifier's logits and the encoder's last hidden states together.
        inputs = self._encode(batch)
        logits, states = self.backend.logits_and_states(inputs)
        return np.concatenate([_sigmoid(logits), _mean_pooled(states, inputs["attention_mask"])], axis=1)


TOKENIZER_FILE = "tokenizer.json"


def _model_labels(path: Path) -> list[str]:
    """The classifier's label names, in output order, from its save_pretrained config.json."""
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    id2label = config.get("id2label") or {}
    return [id2label[str(i)] for i in range(len(id2label))]


def _pad_token(path: Path) -> str:
    token = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8")).get("pad_token", "[PAD]") \
        if (path / "tokenizer_config.json").is_file() else "[PAD]"
    return token["content"] if isinstance(token, dict) else token


class JsonTokenizer:
    """A save_pretrained fast tokenizer's tokenizer.json on the `tokenizers` library alone, encoding a batch as
    the transformers tokenizer does with truncation=True, max_length and padding to the longest (numpy arrays)."""

    def __init__(self, file: Path, max_length: int, pad_token: str):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(file))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad_token) or 0, pad_token=pad_token)

    def __call__(self, batch: list[str]) -> dict[str, np.ndarray]:
        encoded = self.tokenizer.encode_batch(batch)
        return {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}


class _TorchBackend:
    """The save_pretrained weights on PyTorch, fp32."""

    name = "torch-fp32"
    tensors = "pt"

    def __init__(self, path: Path):
        import torch
        from transformers import AutoModelForSequenceClassification

        self._torch = torch
        self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        # torch counts the host's cores, not the container's; threads beyond the usable cores stall each other at
        # every operator (m3e-small, 3 sentences, 2 cores busy with other work: 77 ms on 1 thread, 810 ms on 2).
        if torch.get_num_threads() > cpu_threads():
            torch.set_num_threads(cpu_threads())

    def logits(self, inputs) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(**inputs).logits.numpy()

    def states(self, inputs) -> np.ndarray:
        # The encoder alone: the classifier head is not needed for an embedding.
        with self._torch.inference_mode():
            return self.model.base_model(**inputs).last_hidden_state.numpy()

    def logits_and_states(self, inputs) -> tuple[np.ndarray, np.ndarray]:
        with self._torch.inference_mode():
            output = self.model(**inputs, output_hidden_states=True)
            return output.logits.numpy(), output.hidden_states[-1].numpy()


class _OnnxBackend:
    """The int8 ONNX export on ONNX Runtime: one graph gives logits and hidden states alike."""

    name = "onnx-int8"
    tensors = "np"

    def __init__(self, path: Path):
        self.model = OnnxModel(path)

    def logits(self, inputs) -> np.ndarray:
        return self.model.run(inputs)[0]

    def states(self, inputs) -> np.ndarray:
        return self.model.run(inputs)[1]

    def logits_and_states(self, inputs) -> tuple[np.ndarray, np.ndarray]:
        return self.model.run(inputs)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits.astype(np.float32)))


def _mean_pooled(states: np.ndarray, attention_mask) -> np.ndarray:
    """Mean of the hidden states over the real tokens (padding left out)."""
    mask = np.asarray(attention_mask, dtype=np.float32)[:, :, None]
    return (states * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


KIND = register(ModelKind(name="bert", section=BertSection, fit=fit, predictor=BertPredictor,
                          export=export_artifact))

