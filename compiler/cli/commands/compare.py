"""`vitc compare`: run the IR reference interpreter and onnxruntime on one model and compare every
tensor they share, element by element.

  vitc compare MODEL.onnx [--input x.npy | --seed N] [--exposure optimized|model] [--json]

`--exposure optimized` (default) compares every tensor of onnxruntime's optimised graph;
`model` exposes tensors of the user's model at default session options (only those whose exposure
cannot change onnxruntime's fusions). Exit status 0 only when every compared element is exact.
"""

import json

from compiler.cli.commands.verify import add_model_input_arguments, model_inputs

NAME = "compare"
HELP = "compare every IR tensor of the reference interpreter with onnxruntime's, element by element"
EXIT_MISMATCH = 2


def add_arguments(parser) -> None:
    add_model_input_arguments(parser)
    parser.add_argument("--exposure", choices=("optimized", "model"), default="optimized",
                        help="which onnxruntime tensors to compare (default: optimized)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from compiler.reference.compare import compare_model

    report = compare_model(args.model, model_inputs(args.model, args.input, args.seed), exposure=args.exposure)
    if args.json:
        print(json.dumps({"model": report.model, "exposure": report.exposure, "cpu": report.cpu,
                          **report.counts(), "dropped": report.dropped,
                          "mismatches": [t.describe() for t in report.mismatches]}, sort_keys=True))
    else:
        print(report.cpu)
        print(report.summary())
    return 0 if report.all_exact else EXIT_MISMATCH
