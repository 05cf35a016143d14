"""Measure the precision of each kind of static derivation and ship it as calibration.

For each pinned package (a *calibration* set: never the packages that bench/static_precision.py
reports on), strip its annotations, run static inference in-process with evidence, and count,
per derivation group (static/calibration.py), how often the fact equals the developer's
annotation. Writes src/typeseer/static/calibration.json, which typeseer ships and reads for
the ``confidence`` of static facts.

    .venv/bin/python bench/calibrate_static.py
    .venv/bin/python bench/calibrate_static.py --packages packaging==26.4,pluggy==1.7.0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from static_precision import DEFAULT_CACHE, _split_spec, fetch_wheel, unpack  # noqa: E402

from typeseer.config import Config  # noqa: E402
from typeseer.project import Project  # noqa: E402
from typeseer.scoring import collect_ground_truth  # noqa: E402
from typeseer.sites import SiteKey  # noqa: E402
from typeseer.sources import discover  # noqa: E402
from typeseer.static import StaticEngine  # noqa: E402
from typeseer.static.calibration import (  # noqa: E402
    Calibration,
    calibration_kind,
    dump,
    fit,
)
from typeseer.static.engine import Fact  # noqa: E402
from typeseer.strip import strip_tree  # noqa: E402

#: Calibration set: fully annotated pure-Python packages, disjoint from the packages that
#: bench/static_precision.py reports on and from corpus/holdout.txt.
CALIBRATION_PACKAGES = (
    "packaging==26.4", "httpx==0.28.1", "click==8.5.1", "pluggy==1.7.0", "h11==0.16.0",
    "starlette==0.47.2", "platformdirs==4.3.8", "tomlkit==0.13.3", "trio==0.30.0",
    "structlog==25.4.0", "urllib3==2.5.0", "marshmallow==4.0.0", "flask==3.1.1",
    "werkzeug==3.1.3", "fastapi==0.116.1", "pytest==8.4.1", "textual==5.3.0",
    "hatchling==1.27.0", "jinja2==3.1.6",
)
OUTPUT = ROOT / "src" / "typeseer" / "static" / "calibration.json"


def outcomes(source_dir: Path) -> list[tuple[str, Fact, bool]]:
    truth = {site.key: site.type for site in collect_ground_truth([source_dir]).sites}
    stripped = Path(tempfile.mkdtemp(prefix="calibrate-"))
    strip_tree(source_dir, stripped)
    files, _ = discover([stripped])
    config = Config()
    project = Project(files)
    engine = StaticEngine(project, rules=config.rules)
    found: list[tuple[str, Fact, bool]] = []
    for source in files:
        loaded = project.load(source)
        if loaded.sites is None:
            continue
        for site in loaded.sites.sites:
            expected = truth.get(SiteKey(*site.key))
            if expected is None or site.annotation is not None:
                continue
            fact = engine.site_fact(site)
            if fact is not None:
                found.append((calibration_kind(site), fact, fact.type == expected))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", default=",".join(CALIBRATION_PACKAGES))
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    cache = Path(args.cache_dir)
    collected: list[tuple[str, Fact, bool]] = []
    used: list[str] = []
    for spec in filter(None, (s.strip() for s in args.packages.split(","))):
        name, version = _split_spec(spec)
        try:
            source = unpack(fetch_wheel(name, version, cache), cache)
        except (RuntimeError, OSError) as error:
            print(f"{spec}: skipped ({error})", file=sys.stderr)
            continue
        found = outcomes(source)
        hits = sum(correct for _, _, correct in found)
        print(f"{spec}: {len(found)} facts, {hits} exact", file=sys.stderr)
        collected.extend(found)
        used.append(spec)
    calibration: Calibration = fit(collected)
    Path(args.output).write_text(dump(calibration, used), encoding="utf-8")
    width = max(len(k) for k in calibration.counts)
    for key, (hits, total) in sorted(calibration.counts.items(), key=lambda kv: -kv[1][1]):
        print(f"{key.ljust(width)}  {total:6d}  {hits / total:6.1%}")
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
