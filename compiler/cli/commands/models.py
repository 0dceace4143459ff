"""`vitc models`: list the model zoo, or build a zoo model (float or quantised) into a directory.

  vitc models list
  vitc models build NAME [--format qdq|qoperator] [--activations int8|uint8] [--per-channel]
                         [--preprocess] [--float] [--opset N] [--layernorm ...] [--gelu ...] -o DIR

The build goes through the zoo's cache (models.zoo), then the file is copied into DIR under a
name that says what it is, written atomically.
"""

import argparse
import pathlib

from models import zoo
from models.cache import write_atomically
from models.quantization import QuantVariant
from models.vit_config import OPTION_CHOICES, BuildOptions

NAME = "models"
HELP = "list the model zoo or build a zoo model (float or quantized ONNX) into a directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="names, sizes, parameter counts and quantisation variants")
    build = actions.add_parser("build", help="build one model into a directory")
    build.add_argument("name", choices=zoo.MODEL_NAMES)
    build.add_argument("-o", "--output-dir", required=True, type=pathlib.Path, help="directory to write the .onnx file to")
    build.add_argument("--float", action="store_true", help="write the float model instead of a quantized one")
    build.add_argument("--format", default="qdq", choices=["qdq", "qoperator"])
    build.add_argument("--activations", default="int8", choices=["int8", "uint8"])
    build.add_argument("--per-channel", action="store_true", help="per-channel weight scales")
    build.add_argument("--preprocess", action="store_true", help="run onnxruntime's quant_pre_process first")
    defaults = BuildOptions()
    build.add_argument("--opset", type=int, default=defaults.opset)
    build.add_argument("--seed", type=int, default=defaults.seed, help="weight seed")
    for option, choices in OPTION_CHOICES.items():
        build.add_argument(f"--{option.replace('_', '-')}", choices=choices, default=getattr(defaults, option))


def run(args) -> int:
    return _list() if args.action == "list" else _build(args)


def _list() -> int:
    print(f"{'name':<11} {'image':>5} {'patch':>5} {'width':>5} {'depth':>5} {'heads':>5} {'classes':>7} {'parameters':>11}")
    for name in zoo.MODEL_NAMES:
        c = zoo.config_for(name)
        print(f"{name:<11} {c.image_size:>5} {c.patch_size:>5} {c.width:>5} {c.depth:>5} {c.heads:>5} {c.num_classes:>7} {c.parameter_count:>11,}")
    print("\nquantization variants (format-activations-weights[-pp]: pt per-tensor, pc per-channel, pp quant_pre_process):")
    print("  " + " ".join(v.tag for v in zoo.VARIANTS))
    return 0


def _build(args) -> int:
    options = {option: getattr(args, option) for option in (*OPTION_CHOICES, "opset", "seed")}
    if args.float:
        source, kind = zoo.float_model_path(args.name, **options), "float"
    else:
        variant = QuantVariant(args.format, args.activations, args.per_channel, args.preprocess)
        source, kind = zoo.quantized_model_path(args.name, variant, **options), variant.tag
    target = args.output_dir / f"{args.name}-{kind}-opset{args.opset}.onnx"
    write_atomically(target, source.read_bytes())
    print(target)
    return 0
