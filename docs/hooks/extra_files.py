"""MkDocs hook: publish a few files that live outside docs/ with the site, so pages can link to them.

The pictures are the ones the benchmarks render (benchmarks/results/*.png, under img/), and the notebooks and
examples are offered for download (notebooks/, examples/). Keeping one copy in the repository means a picture in the
docs is always the one the benchmark last drew.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
EXTRA = [  # (folder in the repository, pattern, folder in the site)
    ("benchmarks/results", "*.png", "img"),
    ("notebooks", "*.ipynb", "notebooks"),
    ("examples", "*", "examples"),
]


def on_files(files, config):
    for folder, pattern, target in EXTRA:
        for path in sorted((ROOT / folder).glob(pattern)):
            if path.is_file():
                files.append(File.generated(config, f"{target}/{path.name}", abs_src_path=str(path)))
    return files
