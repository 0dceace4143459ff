"""`vitc verify` over the zoo: every quantisation variant of the chosen models on the chosen
hardware configurations, compiled, emulated (hazard checking on) and compared element by element
with onnxruntime. One table row per (model, variant, configuration).

  python bench/verify_zoo.py [--models vit-micro,deit-tiny] [--configs default,large]
                             [--variants qdq-u8-pt,...] [--seed N] [--json]

Columns: exact outputs, cycles, matrix-engine utilisation, instructions, compile s, emulate s
(with hazard checking, so slower than a plain run). Exit status 0 only when every row is exact.
"""

import argparse
import json
import sys

from compiler.codegen.verification import verify_model
from isa.config import load_config
from isa.errors import VitcError
from models import zoo


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vit-micro,deit-tiny")
    parser.add_argument("--configs", default="default,large")
    parser.add_argument("--variants", default=",".join(v.tag for v in zoo.VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for model in args.models.split(","):
        inputs = zoo.sample_input(model, args.seed)
        for tag in args.variants.split(","):
            path = zoo.quantized_model_path(model, tag)
            for config_name in args.configs.split(","):
                row = {"model": model, "variant": tag, "config": config_name}
                try:
                    v = verify_model(path, load_config(config_name), inputs, diagnose=False)
                    row |= {"exact": v.exact, "cycles": v.cycles, "matrix_utilisation": v.matrix_utilisation,
                            "instructions": v.instructions, "compile_s": v.compile_seconds,
                            "emulate_s": v.emulate_seconds}
                except VitcError as err:
                    row |= {"exact": False, "error": str(err)}
                rows.append(row)
                if not args.json:
                    print(_format(row), flush=True)
    if args.json:
        print(json.dumps(rows, sort_keys=True))
    exact = sum(r["exact"] for r in rows)
    if not args.json:
        print(f"{exact}/{len(rows)} exact")
    return 0 if exact == len(rows) else 1


def _format(row) -> str:
    head = f"{row['model']:<10} {row['variant']:<14} {row['config']:<8}"
    if "error" in row:
        return f"{head} ERROR {row['error']}"
    return (f"{head} {'EXACT' if row['exact'] else 'MISMATCH':<8} cycles {row['cycles']:>11,} "
            f"util {row['matrix_utilisation']:6.1%} instr {row['instructions']:>7,} "
            f"compile {row['compile_s']:5.2f}s emulate {row['emulate_s']:6.2f}s")


if __name__ == "__main__":
    sys.exit(main())
