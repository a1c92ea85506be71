"""Shared helpers for benchmark scripts: machine description and result files."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {"machine": platform.node() or "unknown", "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": date.today().isoformat()}


def add_design_options(parser) -> None:
    """The CPU demonstration's design screen (issue #34): override the procedural data's stripes and glyph size."""
    parser.add_argument("--stripe-contrast", type=float, default=None, help="override the stripes' contrast")
    parser.add_argument("--glyph-radius", type=float, default=None,
                        help="override `constellations`' glyph radius (a share of the lattice spacing)")


def apply_design(args) -> dict:
    """Set the overrides `add_design_options` parsed (module constants, read when images are rendered) and
    return the design the run used, for its result file."""
    from reference_impls import constellations as design

    if args.stripe_contrast is not None:
        design.STRIPE_CONTRAST = args.stripe_contrast
    if args.glyph_radius is not None:
        design.GLYPH_RADIUS = args.glyph_radius
    return {"stripe_contrast": design.STRIPE_CONTRAST, "glyph_radius": design.GLYPH_RADIUS,
            "large_radius": design.LARGE_RADIUS}


def save(name: str, payload: dict, path: Path | None = None) -> Path:
    """The result file (`results/NAME.json`, or `path`), with the command and machine; written and renamed, so
    a benchmark that rewrites it as it goes and is stopped leaves a whole file."""
    from taxonomy.fsutil import write_text_atomic

    if path is None:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{name}.json"
    payload = {"command": "python " + " ".join(sys.argv), **machine(), **payload}
    write_text_atomic(Path(path), json.dumps(payload, indent=1) + "\n")
    return Path(path)
