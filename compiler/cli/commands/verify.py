"""`vitc verify`: compile a model, run it on the emulator (hazard checking on) and onnxruntime
(CPU, default session options) on the same input, and compare every output element.

  vitc verify MODEL.onnx [--input x.npy | --seed N] [--hw CONFIG] [--json]

Prints, per output, the element count, how many are exact and the largest difference in
quantisation steps; on a mismatch, the first IR tensor that differs. `--json` prints one JSON
object instead. Exit status 0 only when every element is exact, 2 when some differ.
"""

import io
import json
from pathlib import Path

import numpy as np
import onnx

from compiler.cli.commands.compile import progress_printer
from compiler.codegen.verification import verify_model
from isa.config import load_config
from isa.errors import VitcError
from models.zoo import random_image

NAME = "verify"
HELP = "compile, emulate and compare every output element with onnxruntime"
EXIT_MISMATCH = 2


def add_model_input_arguments(parser) -> None:
    """MODEL.onnx and where its one input comes from (`--input x.npy` or `--seed N`); read them
    back with `model_inputs(args.model, args.input, args.seed)`."""
    parser.add_argument("model", metavar="MODEL.onnx", help="quantized ONNX model")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="x.npy", help="the input tensor (.npy) for the model's one input")
    source.add_argument("--seed", type=int, default=0, help="seed of a random normalised image (default 0)")


def add_arguments(parser) -> None:
    add_model_input_arguments(parser)
    parser.add_argument("--hw", default="default", metavar="CONFIG", help="hardware configuration (name or .toml path)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def model_inputs(path, input_file, seed: int) -> dict:
    """The model's one input: from a .npy file or a seeded random image of its shape."""
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as err:  # onnx raises its own decode errors for a bad file
        raise VitcError(f"{path}: cannot read the ONNX model: {err}") from None
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise VitcError(f"{path}: verify needs a model with one input, it has {len(inputs)}")
    name = inputs[0].name
    if input_file is not None:
        try:
            array = np.load(io.BytesIO(Path(input_file).read_bytes()), allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise VitcError(f"--input {input_file}: not a readable .npy file: {err}") from None
        return {name: array}
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    if not all(d > 0 for d in dims):
        raise VitcError(f"{path}: input {name!r} has no static shape {dims}; pass --input")
    return {name: random_image(tuple(dims), seed)}


def format_report(verification) -> str:
    lines = []
    for out in verification.outputs:
        lines.append(f"{out.name}: {out.elements} elements, {out.exact} exact, largest difference {out.max_diff:g} steps")
    lines.append(f"cycles {verification.cycles:,}, instructions {verification.instructions:,}, "
                 f"matrix utilisation {verification.matrix_utilisation:.1%}, compile {verification.compile_seconds:.2f} s, "
                 f"emulate {verification.emulate_seconds:.2f} s")
    if verification.first_difference:
        lines.append(f"first difference: {verification.first_difference}")
    lines.append("EXACT: every output element equals onnxruntime's" if verification.exact else "MISMATCH")
    return "\n".join(lines)


def run(args) -> int:
    config = load_config(args.hw)
    inputs = model_inputs(args.model, args.input, args.seed)
    verification = verify_model(args.model, config, inputs, progress=progress_printer())
    print(json.dumps(verification.to_json_dict(), sort_keys=True) if args.json else format_report(verification))
    return 0 if verification.exact else EXIT_MISMATCH
