"""`vitc demo`: build vit-micro from the model zoo, compile it, verify it against onnxruntime,
and print the summary (the README's third command).

  vitc demo [--hw CONFIG] [--variant qdq-u8-pt] [--seed N]
"""

from compiler.cli.commands.verify import EXIT_MISMATCH, format_report
from compiler.codegen.verification import verify_model
from isa.config import load_config
from isa.errors import VitcError
from models import zoo

NAME = "demo"
HELP = "build vit-micro, compile it, verify it against onnxruntime and print the summary"
MODEL = "vit-micro"


def _variant_names() -> dict:
    names = {}
    for variant in zoo.VARIANTS:
        name = f"{variant.fmt}-{'u8' if variant.activations == 'uint8' else 's8'}-{'pc' if variant.per_channel else 'pt'}"
        names[name + ("-pp" if variant.preprocess else "")] = variant
    return names


def add_arguments(parser) -> None:
    parser.add_argument("--hw", default="default", metavar="CONFIG", help="hardware configuration (name or .toml path)")
    parser.add_argument("--variant", default="qdq-u8-pt", metavar="VARIANT",
                        help=f"quantisation variant: {', '.join(_variant_names())} (default qdq-u8-pt)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input image")


def run(args) -> int:
    variants = _variant_names()
    if args.variant not in variants:
        raise VitcError(f"--variant {args.variant!r}: not one of {', '.join(variants)}")
    config = load_config(args.hw)
    path = zoo.quantized_model_path(MODEL, variants[args.variant])
    print(f"{MODEL} ({args.variant}): {path}")
    verification = verify_model(path, config, zoo.sample_input(MODEL, args.seed))
    print(f"hardware {config.name!r}: {verification.constant_bytes:,} constant bytes, DRAM footprint {verification.dram_bytes:,} bytes")
    print(format_report(verification))
    return 0 if verification.exact else EXIT_MISMATCH
