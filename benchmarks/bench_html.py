"""The interactive page: its size and how long it takes to open and draw in headless Chromium.

Baseline, measured in the same run: the static SVG of the same tree (`dendrogram.svg`) opened the same way.
Also a synthetic 6,000-leaf tree (the page opens collapsed at a cut, so it must stay quick). Targets (issue
"An interactive map of the field"): <= 1.5 MB and < 2 s for the shipped corpus. Saves a screenshot to
benchmarks/results/dendrogram-html.png. Needs Debian's chromium and chromium-driver, and selenium.
Usage: python benchmarks/bench_html.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

from tests import browser  # noqa: E402


def open_time(driver, page: Path, ready: bool) -> float:
    """Seconds from navigation start to the page drawn (the app's own mark) or, for a plain file, loaded."""
    driver.get("about:blank")
    driver.get(page.as_uri())
    loaded = driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
    if ready:  # the later of the app's own mark (drawn) and the load event
        return max(loaded, driver.execute_script("return window.mimtaxDrawnAt") / 1000)
    return loaded


def synthetic(folder: Path, n: int) -> Path:
    from scipy.cluster import hierarchy

    from taxonomy.clustering.dendrogram import Dendrogram
    from taxonomy.render.web import write_html

    rng = np.random.default_rng(0)
    Z = hierarchy.linkage(rng.standard_normal((n, 8)), "ward")
    papers = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "title": [f"Synthetic paper {i}" for i in range(n)],
                           "short_name": "", "authors": "A. Author, B. Author", "year": 2024, "venue": "arXiv",
                           "arxiv_id": "", "paper_url": "", "code_url": "", "reference_impl": "", "corrections": ""})
    result = Dendrogram(papers=papers, linkage=Z, node_terms={}, leaf_names=list(papers["title"]), agreement={},
                        baseline_agreement={}, guided_linkage=None, guided_agreement=None, config={},
                        n_with_abstract=0, taxonomy=None)
    return write_html(result, folder / f"synthetic-{n}.html")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from selenium.webdriver.support.ui import Select

    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import write_outputs

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_outputs(build_dendrogram(progress=False), folder)
        page, svg = folder / "dendrogram.html", folder / "dendrogram.svg"
        big = synthetic(folder, 6000)
        driver = browser.chrome()
        try:
            pages = (("html", page, True), ("svg", svg, False), ("synthetic_6000", big, True))
            times = {name: [open_time(driver, path, ready) for _ in range(args.repeat)] for name, path, ready in pages}
            driver.get(page.as_uri())
            Select(driver.find_element("id", "survey-node")).select_by_value("awesome-mim|downstream/video")
            driver.save_screenshot(str(RESULTS / "dendrogram-html.png"))
        finally:
            driver.quit()
        sizes = {"html": page.stat().st_size, "svg": svg.stat().st_size, "synthetic_6000": big.stat().st_size}
    median = {k: statistics.median(v) for k, v in times.items()}
    for name in times:
        print(f"{name:>15}: {sizes[name] / 1e6:.2f} MB, open and draw median {median[name]:.3f} s "
              f"(runs: {', '.join(f'{t:.3f}' for t in times[name])})")
    small = "met" if sizes["html"] <= 1.5e6 else "NOT met"
    print(f"dendrogram.html: {sizes['html'] / 1e6:.2f} MB (target <= 1.5 MB: {small}), "
          f"{median['html']:.3f} s to draw (target < 2 s: {'met' if median['html'] < 2 else 'NOT met'}); "
          f"{median['html'] / median['svg']:.2f}x the static SVG's {median['svg']:.3f} s")
    path = save("html", {"sizes_bytes": sizes, "seconds_median": median, "seconds": times, "repeat": args.repeat,
                         "chromium": "Debian chromium, headless"})
    print(f"saved {path.relative_to(ROOT)} and benchmarks/results/dendrogram-html.png")


if __name__ == "__main__":
    main()
