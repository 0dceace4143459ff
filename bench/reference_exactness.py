"""The reference interpreter against onnxruntime, tensor by tensor, over the zoo, the committed
fixtures and vit-digits: one table row per model variant.

  python bench/reference_exactness.py [--models vit-micro,deit-tiny] [--no-fixtures]
                                      [--no-digits] [--exposure optimized|model] [--seed N] [--json]

Per row: tensors compared, tensors exact, elements compared, elements exact (see
compiler/reference/compare.py for what each exposure compares). A model the frontend refuses is a
row with its reason. Exit status 0 only when every compared element is exact.
"""

import argparse
import json
import sys

from compiler.reference.compare import compare_model
from isa.errors import VitcError
from models import digits, fixtures, zoo


def cases(model_names, with_fixtures: bool, with_digits: bool, seed: int):
    """(label, variant, path thunk, inputs thunk) for every model to compare."""
    for name in model_names:
        for variant in zoo.VARIANTS:
            yield (name, variant.tag, lambda n=name, v=variant: zoo.quantized_model_path(n, v),
                   lambda n=name: zoo.sample_input(n, seed))
    if with_fixtures:
        for name in fixtures.FIXTURES:
            yield ("fixture", name, lambda n=name: fixtures.fixture_path(n), lambda n=name: fixtures.sample_input(n, seed))
    if with_digits:
        images, _ = digits.test_split()
        for tag in digits.metadata()["int8_top1"]:
            path = lambda t=tag: digits.model_path(quantized=True, variant=t)
            yield ("vit-digits", tag, path, lambda p=path: {_input_name(p()): images[seed:seed + 1]})


def _input_name(path) -> str:
    import onnx
    graph = onnx.load(str(path)).graph
    initializers = {t.name for t in graph.initializer}
    return next(i.name for i in graph.input if i.name not in initializers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vit-micro", help="comma-separated zoo models (default vit-micro)")
    parser.add_argument("--no-fixtures", action="store_true")
    parser.add_argument("--no-digits", action="store_true")
    parser.add_argument("--exposure", choices=("optimized", "model"), default="optimized")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for group, variant, path, inputs in cases([m for m in args.models.split(",") if m],
                                              not args.no_fixtures, not args.no_digits, args.seed):
        row = {"model": group, "variant": variant}
        try:
            report = compare_model(path(), inputs(), exposure=args.exposure)
            row |= report.counts()
            row["mismatches"] = [t.describe() for t in report.mismatches]
        except VitcError as err:
            row["refused"] = str(err)
        rows.append(row)
        if not args.json:
            print(_format_row(row), flush=True)
    totals = {k: sum(r.get(k, 0) for r in rows) for k in ("tensors", "tensors_exact", "elements", "elements_exact")}
    if args.json:
        print(json.dumps({"exposure": args.exposure, "rows": rows, "totals": totals}, sort_keys=True))
    else:
        print(f"total: {totals['tensors_exact']}/{totals['tensors']} tensors exact, "
              f"{totals['elements_exact']}/{totals['elements']} elements exact")
    exact = all("refused" not in r and r["elements"] == r["elements_exact"] and r["tensors"] == r["tensors_exact"] for r in rows)
    return 0 if exact else 1


def _format_row(row) -> str:
    head = f"{row['model']:<11} {row['variant']:<42}"
    if "refused" in row:
        return f"{head} refused: {row['refused']}"
    line = (f"{head} tensors {row['tensors_exact']:>4}/{row['tensors']:<4} "
            f"elements {row['elements_exact']:>10}/{row['elements']:<10}")
    return "\n".join([line] + [f"    MISMATCH {m}" for m in row["mismatches"]])


if __name__ == "__main__":
    sys.exit(main())
