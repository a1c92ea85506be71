"""The CPU embedding backends: PyTorch (the default), ONNX Runtime in float32, ONNX Runtime with int8 dynamic
quantisation. Speed, agreement of the vectors, and the AMI change on the quality benchmark's default tree.

Needs `pip install -e ".[onnx]"` (sentence-transformers' ONNX backend through optimum). All three backends run
in the same environment, so the baseline has the same library versions as the others. Speed: texts per second
embedding title + abstract of every paper (the longest texts), best of 3, cache off. Quality: the default tree
(`make_tree(representation_views(...), "consensus")`) scored against survey A at section and subsection
level in conditions (a) as shipped and (b) complete text, as in bench_dendrogram_quality.py. Rule (issue "Map
a whole field"): a backend may become the default only if AMI moves by less than 0.005 in every cell.
Usage: python benchmarks/bench_onnx.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from bench_dendrogram_quality import ABSTRACTS, LEVELS, scores, subset  # noqa: E402

from taxonomy.corpus.folder import load_corpus  # noqa: E402
from taxonomy.clustering.dendrogram import make_tree, representation_views  # noqa: E402
from taxonomy.clustering.embeddings import SentenceEncoder  # noqa: E402
from taxonomy.corpus.text import paper_texts  # noqa: E402

BACKENDS = ("minilm", "minilm-onnx", "minilm-onnx-int8")
MAX_AMI_CHANGE = 0.005


def main() -> None:
    import sentence_transformers
    import transformers

    if not ABSTRACTS.exists():
        sys.exit(f"{ABSTRACTS} is absent: this benchmark needs the dev abstracts")
    corpus = load_corpus()
    texts = paper_texts(corpus.papers, ABSTRACTS)
    combined = texts.combined()
    conditions = {"a: as shipped": np.arange(len(corpus)),
                  "b: complete text": np.array([i for i, a in enumerate(texts.abstracts) if a])}
    rows, vectors = {}, {}
    for name in BACKENDS:
        encoder = SentenceEncoder(name)
        encoder.encode(combined[:64], progress=False)  # warm-up
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            vectors[name] = encoder.encode(combined, progress=False)
            timings.append(time.perf_counter() - began)
        quality = {}
        with tempfile.TemporaryDirectory() as cache:
            for label, rows_kept in conditions.items():
                sub_corpus, sub_texts = subset(corpus, texts, rows_kept)
                views = representation_views(sub_texts, name, cache_dir=cache, progress=False)
                s = scores(make_tree(views, "consensus")[0], sub_corpus)
                quality[label] = {f"{level} ami": s[f"{level} ami"] for level in LEVELS}
        rows[name] = {"texts_per_s": round(len(combined) / min(timings), 1), "quality": quality}
        print(name, rows[name])
    base = rows["minilm"]
    for name in BACKENDS[1:]:
        row = rows[name]
        row["speedup"] = round(row["texts_per_s"] / base["texts_per_s"], 2)
        cos = (vectors[name] * vectors["minilm"]).sum(1) / (np.linalg.norm(vectors[name], axis=1) * np.linalg.norm(vectors["minilm"], axis=1))
        row["cosine_to_pytorch"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
        row["ami_change"] = {f"{c} / {k}": round(row["quality"][c][k] - base["quality"][c][k], 4)
                             for c in conditions for k in row["quality"][c]}
        row["max_abs_ami_change"] = max(abs(v) for v in row["ami_change"].values())
        row["may_be_default"] = row["max_abs_ami_change"] < MAX_AMI_CHANGE
        print(name, {k: row[k] for k in ("speedup", "cosine_to_pytorch", "max_abs_ami_change", "may_be_default")})
    print("wrote", save("onnx", {"texts": len(combined), "versions": {
        "sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
        "onnxruntime": __import__("onnxruntime").__version__}, "backends": rows, "rule_max_ami_change": MAX_AMI_CHANGE}))


if __name__ == "__main__":
    main()
