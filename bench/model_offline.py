"""Quick offline accuracy of a model file on featurised rows (valid or test split).

Applies the same decision as ``typeseer infer`` (model/runtime.py + the static override of
api.py) to the rows of ``DATA/<split>`` and scores top-1 exact match, per kind, with and
without ``-> None`` returns, by category, and precision/coverage by threshold. The
end-to-end figures (strip, infer, score) come from bench/accuracy.py; this one is for
iterating on the model in seconds.

    .venv/bin/python bench/model_offline.py --model src/typeseer/model/data/typeseer-model.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from typeseer.combine import IsotonicMap, load_decision_map  # noqa: E402
from typeseer.model.runtime import Model  # noqa: E402
from typeseer.model.train import decide_rows, load_split  # noqa: E402
from typeseer.scoring import expected_calibration_error  # noqa: E402
from typeseer.typeexpr import TypeParseError, parse_type  # noqa: E402

BASIC = {"int", "str", "bool", "float", "bytes", "list", "dict", "tuple", "set", "None", "Any"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model",
                        default=str(ROOT / "src/typeseer/model/data/typeseer-model.npz"))
    parser.add_argument("--data", default="/work/data/dataset")
    parser.add_argument("--split", default="test")
    parser.add_argument("--raw", action="store_true", help="without the isotonic calibration")
    parser.add_argument("--max-rows-per-package", type=int, default=6000)
    args = parser.parse_args()
    model = Model.load(Path(args.model))
    calibration = IsotonicMap() if args.raw else load_decision_map()
    split = load_split(Path(args.data) / args.split, args.max_rows_per_package, 1234)
    outcomes: list[tuple[str, str, bool, float, str]] = []
    for i, decision, correct in decide_rows(model, split, calibration):
        label = split.labels[i]
        try:
            truth = parse_type(label)
        except TypeParseError:
            outcomes.append((split.kinds[i], label, correct, decision.confidence, "other"))
            continue
        category = ("basic" if truth.name in BASIC else
                    "user" if any(p.name in split.candidates[i] for p in truth.walk())
                    else "other")
        outcomes.append((split.kinds[i], label, correct, decision.confidence, category))

    def rate(rows: list[tuple[str, str, bool, float, str]]) -> str:
        return f"{sum(r[2] for r in rows) / max(len(rows), 1):.1%} of {len(rows)}"
    print(f"{args.split}: top-1 exact {rate(outcomes)}")
    print(f"  without None returns: "
          f"{rate([o for o in outcomes if not (o[0] == 'return' and o[1] == 'None')])}")
    for kind in ("param", "return", "variable", "attribute"):
        print(f"  {kind:9s}: {rate([o for o in outcomes if o[0] == kind])}")
    for category in ("basic", "user", "other"):
        print(f"  {category:9s}: {rate([o for o in outcomes if o[4] == category])}")
    for threshold in (0.5, 0.7, 0.8, 0.9, 0.95):
        given = [o for o in outcomes if o[3] >= threshold]
        print(f"  threshold {threshold}: coverage {len(given) / len(outcomes):.1%}, "
              f"precision {rate(given)}")
    calibration_error = expected_calibration_error((o[3], o[2]) for o in outcomes)
    print(f"  ECE {calibration_error.ece:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
