"""Fine-tune a BERT for multi-label classification with the HF Trainer (sigmoid outputs, weighted BCE).

Runs unchanged on one CPU, one GPU or several (`accelerate launch` / `torchrun`): the Trainer handles the
devices; only the main process writes the model.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from training.config import BertModelConfig, Config
from training.data import Example, label_matrix
from training.encoders import resolve_pretrained
from training.metrics import decide, multilabel_report, tune_thresholds

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def char_vocab(texts: list[str], min_count: int) -> dict[str, int]:
    """Special tokens, then every character seen at least `min_count` times, alone and as a `##` continuation
    (BERT's basic tokenizer splits CJK characters apart but keeps runs of digits and Latin letters together)."""
    counts = Counter(ch for text in texts for ch in text if not ch.isspace())
    chars = sorted(ch for ch, n in counts.items() if n >= min_count)
    tokens = SPECIAL_TOKENS + chars + [f"##{ch}" for ch in chars]
    return {token: i for i, token in enumerate(tokens)}


def build_model(model_cfg: BertModelConfig, labels: list[str], train_texts: list[str]):
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


def _make_trainer_class():
    import torch
    from transformers import Trainer, TrainerCallback

    class WeightedBCETrainer(Trainer):
        """BCE-with-logits with per-label positive weights (class imbalance)."""

        def __init__(self, *args, pos_weight: np.ndarray, **kwargs):
            super().__init__(*args, **kwargs)
            self.pos_weight = torch.tensor(pos_weight)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                outputs.logits, labels.to(outputs.logits.dtype), pos_weight=self.pos_weight.to(outputs.logits.device)
            )
            return (loss, outputs) if return_outputs else loss

    class KeepBest(TrainerCallback):
        """Remember the weights of the epoch with the best held-out macro-F1 (in memory: no checkpoint files)."""

        def __init__(self):
            self.best, self.state = -1.0, None

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            score = (metrics or {}).get("eval_macro_f1")
            if score is not None and model is not None and score > self.best:
                self.best = score
                self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

        def restore(self, model) -> None:
            if self.state is not None:
                model.load_state_dict(self.state)

    return WeightedBCETrainer, KeepBest


def fit(config: Config, train_rows: list[Example], held_rows: list[Example], labels: list[str], fallback: str,
        out_dir: Path, scratch_dir: Path) -> dict:
    """Train and save model + tokenizer into `out_dir` (main process only); returns extra artifact metadata."""
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, TrainingArguments, set_seed

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
    trainer_class, keep_best_class = _make_trainer_class()
    keep_best = keep_best_class()
    trainer = trainer_class(
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
    return {
        "max_length": model_cfg.max_length,
        "base_model": model_cfg.pretrained or "random_init",
        "best_epoch_macro_f1": keep_best.best if keep_best.state is not None else None,
    }
