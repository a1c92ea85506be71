"""`mimtax corpus import` time at growing sizes: linear means about 4x the time for 4x the rows.

The synthetic CSV is the shape that made the import quadratic before: many papers with the same first author,
year and first title word (so their readable ids share a base and need '-2', '-3', … suffixes), each under its
own heading path (so the heading taxonomy has as many nodes as papers). Reading, merging, naming, writing and
validating the corpus folder are all timed, as the command does them.

    python benchmarks/bench_import.py [--rows 20000 80000 320000]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import save  # noqa: E402
from taxonomy.corpus.importer import import_corpus, write_corpus  # noqa: E402

WORDS = ("masked", "image", "modeling", "tokens", "pixels", "features", "teacher", "student", "sparse", "video")


def synthetic_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "authors", "year", "labels"])
        for i in range(rows):
            title = f"Synthetic {' '.join(WORDS[(i + j) % len(WORDS)] for j in range(5))} paper number {i}"
            writer.writerow([title, "Ada Author, Ben Builder", 2020 + i % 5, f"Topic {i % 40} > Subtopic {i}"])


def time_import(rows: int, folder: Path) -> dict:
    source = folder / f"papers-{rows}.csv"
    synthetic_csv(source, rows)
    out = folder / f"corpus-{rows}"
    start = time.perf_counter()
    imported = import_corpus([source], taxonomy_from_headings=True)
    read_s = time.perf_counter() - start
    write_corpus(imported, out)
    total = time.perf_counter() - start
    shutil.rmtree(out)
    source.unlink()
    return {"rows": rows, "papers": len(imported.papers), "import_s": round(read_s, 2),
            "write_s": round(total - read_s, 2), "total_s": round(total, 2),
            "load_average_1min": round(os.getloadavg()[0], 1)}  # the machine is shared: how busy it was


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 80_000, 320_000])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            results.append(time_import(rows, Path(tmp)))
            print(results[-1], flush=True)
    ratios = [{"rows": f"{a['rows']} -> {b['rows']}", "row_ratio": round(b["rows"] / a["rows"], 2),
               "time_ratio": round(b["total_s"] / a["total_s"], 2)} for a, b in zip(results, results[1:])]
    if len(results) > 1:  # first to last: the ratio least moved by the shared machine's load at any one size
        first, last = results[0], results[-1]
        ratios.append({"rows": f"{first['rows']} -> {last['rows']}", "row_ratio": round(last["rows"] / first["rows"], 2),
                       "time_ratio": round(last["total_s"] / first["total_s"], 2)})
    for r in ratios:
        print(f"{r['rows']}: {r['row_ratio']}x rows, {r['time_ratio']}x time")
    save("import", {"what": "mimtax corpus import of a synthetic CSV (shared id bases, one heading path per "
                            "paper), read + merge + name + write + validate", "results": results, "ratios": ratios},
         args.out)


if __name__ == "__main__":
    main()
