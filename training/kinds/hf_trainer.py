"""The HF Trainer pieces of the `bert` kind, importable by name (they import torch and transformers).

    from training.kinds.hf_trainer import KeepBest, WeightedBCETrainer
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from transformers import PrinterCallback, ProgressCallback, Trainer, TrainerCallback


def _shown(logs: dict) -> str:
    return str({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in logs.items() if k != "total_flos"})


class StderrProgress(ProgressCallback):
    """The Trainer's progress bars with its epoch logs on stderr too: the stock callback writes the logs to stdout,
    which the commands keep for their results (JSON) and which a retrain beside the service must not touch."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and self.training_bar is not None:
            self.training_bar.write(_shown(logs), file=sys.stderr)


class WeightedBCETrainer(Trainer):
    """BCE-with-logits with per-label positive weights (class imbalance); logs and progress on stderr."""

    def __init__(self, *args, pos_weight: np.ndarray, **kwargs):
        super().__init__(*args, **kwargs)
        self.pos_weight = torch.tensor(pos_weight)
        for stdout_callback in (ProgressCallback, PrinterCallback):
            if self.pop_callback(stdout_callback) is not None:
                self.add_callback(StderrProgress if stdout_callback is ProgressCallback else StderrPrinter)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            outputs.logits, labels.to(outputs.logits.dtype), pos_weight=self.pos_weight.to(outputs.logits.device)
        )
        return (loss, outputs) if return_outputs else loss


class StderrPrinter(PrinterCallback):
    """The Trainer's logs without progress bars (disable_tqdm), on stderr."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_local_process_zero and logs:
            print(_shown(logs), file=sys.stderr)


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
