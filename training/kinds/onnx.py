"""ONNX Runtime copies of a bert-kind artifact: export, dynamic int8 quantization, and loading for inference.
A helper of the bert kind (and of the ensemble through its bert members), not a kind of its own.

    export_onnx(model_dir)          # writes onnx/model.onnx (fp32) and onnx/model.int8.onnx; returns what it did
    export_artifact("models/m3e")   # the same for an artifact trained before exports existed (`clausemap export`)
    model = OnnxModel(path / "onnx/model.int8.onnx")
    logits, states = model.run(encoded)   # classifier logits and the encoder's last hidden states

The graph returns the last hidden states beside the logits, so scores and the department-suggestion embeddings
both come from one ONNX run. The save_pretrained weights stay in the artifact (transformers.pipeline, fine-tuning,
the PyTorch runtime use them); the ONNX files are an addition.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ONNX_DIR = "onnx"
FP32_FILE = f"{ONNX_DIR}/model.onnx"
INT8_FILE = f"{ONNX_DIR}/model.int8.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("logits", "last_hidden_state")
OPSET = 17


class _QuantizerAdvice(logging.Filter):
    """Drops what onnxruntime's quantizer logs on the root logger (its advice to pre-process, which fails on this
    graph and is not needed) and nothing else: other threads' records, a retrain beside the service, still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname


def export_onnx(model_dir: str | Path) -> dict[str, Any]:
    """Export the save_pretrained classifier in `model_dir` to ONNX and quantize it; returns the facts recorded
    in the artifact's details["onnx"]."""
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    model_dir = Path(model_dir)
    (model_dir / ONNX_DIR).mkdir(exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    # Any small batch: the axes below stay dynamic.
    example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long),
               torch.zeros((2, 8), dtype=torch.long))
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    dynamic["logits"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent branches; the axes are dynamic
        # The TorchScript exporter needs only torch and onnx (the dynamo one would need onnxscript too).
        torch.onnx.export(_logits_and_states(model), example, str(model_dir / FP32_FILE), input_names=list(INPUTS),
                          output_names=list(OUTPUTS), dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    # Weights to int8 once, a scale per output channel (on m3e-small: 99.6% of seed decisions as fp32, against
    # 99.2% with one scale per tensor); activations quantized per batch at run time. Weights are unsigned:
    # without VNNI (AVX2 machines such as this project's) the u8 x s8 kernels saturate (tiny test BERT: scores
    # off by up to 0.14 with s8 weights, 0.006 with u8). Its advice to pre-process (symbolic shape inference) is
    # muted: that step fails on this graph and is not needed.
    advice = _QuantizerAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(model_dir / FP32_FILE, model_dir / INT8_FILE, weight_type=QuantType.QUInt8, per_channel=True)
    finally:
        logging.getLogger().removeFilter(advice)
    return {"fp32": FP32_FILE, "int8": INT8_FILE, "opset": OPSET,
            "quantization": "dynamic int8, per-channel u8 weights",
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def export_artifact(model_dir: str | Path) -> dict[str, Any]:
    """Add ONNX files to an existing artifact of a save_pretrained classifier (the bert kind's `export`, what
    `clausemap export` runs) and record them in its clausemap.json."""
    from training.inference.artifact import read_meta, write_meta

    meta = read_meta(model_dir)
    meta.details["onnx"] = export_onnx(model_dir)
    write_meta(Path(model_dir), meta)
    return meta.details["onnx"]


def exported_file(model_dir: Path, details: dict[str, Any], precision: str = "int8") -> Path | None:
    """The exported ONNX file the artifact records (int8 or fp32), if it is there."""
    recorded = (details.get("onnx") or {}).get(precision)
    path = model_dir / recorded if recorded else None
    return path if path is not None and path.is_file() else None


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cpu_threads(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on: its CPU affinity (taskset, cpuset), capped by a cgroup v2 CPU quota
    (`docker --cpus=2` leaves every host core in the affinity mask). More compute threads than that only wait
    for each other: an intra-op thread descheduled mid-operator stalls the rest at its barrier."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text(encoding="ascii").split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity mask is the limit
    return cores


class OnnxModel:
    """An ONNX Runtime session over an exported classifier, with every graph optimisation on."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The predictor runs one batch at a time: all cores on the operators, none spent across them.
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle workers sleep instead of spinning: the service's event loop and tokeniser share these cores
        # (m3e-small int8, seed sentences in batches of 32, 2 shared cores: 66 sentences/s against 45 spinning).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, encoded: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(logits, last hidden states) for tokenizer output (numpy); a missing token_type_ids is all zeros."""
        ids = encoded["input_ids"]
        feed = {name: np.asarray(encoded[name], dtype=np.int64) if name in encoded else np.zeros_like(ids)
                for name in self.input_names}
        logits, states = self.session.run(list(OUTPUTS), feed)
        return logits, states


def _logits_and_states(model):
    """`model` as a module returning (logits, last hidden states); torch is imported only when exporting."""
    import torch

    class LogitsAndStates(torch.nn.Module):
        """The classifier's logits and its encoder's last hidden states, from one forward pass."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                output_hidden_states=True)
            return output.logits, output.hidden_states[-1]

    return LogitsAndStates()

