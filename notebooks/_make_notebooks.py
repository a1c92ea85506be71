"""Writes the three notebooks (without outputs) from the cells below: edit here, run, commit the .ipynb."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

NOTEBOOKS = {
    "01_regenerate_dendrogram.ipynb": [
        ("md", """# 1. Regenerate the dendrogram

Load the corpus, optionally add abstracts, build the dendrogram, look at it, read how closely it mirrors both
survey taxonomies (beside survey B's own TF-IDF + Ward recipe) and see which reference implementations each
branch links to. Everything here is the library API that `mimtax dendrogram` uses."""),
        ("code", """from pathlib import Path

from IPython.display import display

from taxonomy import build_dendrogram, load_corpus, score_table

corpus = load_corpus()
print(len(corpus), "papers;", ", ".join(f"{t.name}: {len(t.nodes)} nodes" for t in corpus.taxonomies.values()))
corpus.papers[["id", "short_name", "title", "year", "venue", "awesome_mim", "mim_survey"]].head()"""),
        ("md", """Abstracts never ship with the project. Set `ADD_ABSTRACTS = True` to match the development abstracts
by id, arXiv id or title (the first run embeds them, about a minute on two cores; later runs use the cache)."""),
        ("code", """ADD_ABSTRACTS = False
abstracts = Path("../../shared/corpus/abstracts-dev.jsonl")
abstracts = abstracts if ADD_ABSTRACTS and abstracts.exists() else None

result = build_dendrogram(corpus, abstracts=abstracts, embedding="minilm", progress=False)
print(f"{result.n} papers, {result.n_with_abstract} with an abstract; linkage: {result.config['linkage']}")"""),
        ("code", """from taxonomy.render.plotting import plot_bk_curve, plot_dendrogram

display(plot_dendrogram(result))"""),
        ("md", """## Agreement with the taxonomies

Each level is cut into as many clusters as it has nodes. `survey_recipe` is survey B's TF-IDF + Ward on the
same text, `chance` the mean over label permutations."""),
        ("code", """table = score_table(result)
table[table.metric == "ami"]"""),
        ("code", """display(plot_bk_curve(result))"""),
        ("md", """## Branches and the implementations they link to

At survey A's subsection count (28 clusters): the key terms of each cluster and the reference implementation
of its papers, or the nearest one by facets."""),
        ("code", """cuts = result.cuts
summary = (cuts.groupby("cluster_k28")
           .agg(papers=("id", "size"), terms=("terms_k28", "first"), implementations=("impls_k28", "first"),
                examples=("short_name", lambda s: ", ".join(x for x in s if x)[:60])))
summary.head(28)"""),
        ("md", """The guided tree keeps the taxonomy as its upper levels and learns the structure inside each node. It
is scored only where it learns: each level below the top, with the levels above it given (`inside_random`: the
labels shuffled inside each given node; `unguided`: the unsupervised tree):"""),
        ("code", """guided = build_dendrogram(corpus, embedding="tfidf", guided=True, progress=False)
guided.guided_agreement"""),
    ],
    "02_query_methods.ipynb": [
        ("md", """# 2. Query methods by category, facet and text

The taxonomy trees, queries by category, facet and free text, reported ImageNet-1K results by year, and
placing a new paper in both taxonomies. The same functions back `mimtax categories`, `query` and `place`."""),
        ("code", """import taxonomy
from taxonomy import compute_node_counts, load_corpus

corpus = load_corpus()
counts = compute_node_counts(corpus, "mim-survey")
counts.assign(node=["  " * d + n for d, n in zip(counts.depth, counts.name)])[["node", "papers"]]"""),
        ("md", """Which masking-strategy papers (survey B, every category that includes that aspect) came out in 2023
with code?"""),
        ("code", """taxonomy.query(corpus, category="masking strategy", taxonomy="mim-survey", year="2023", has_code=True)[
    ["id", "method", "title", "venue", "mim_survey"]]"""),
        ("md", """The contrastive MIM methods, how well they do on ImageNet, and which can be run here:"""),
        ("code", """taxonomy.query(corpus, category="contrastive", taxonomy="awesome-mim", sort="-top1")[
    ["method", "title", "year", "in1k_ft_top1", "reference_impl"]].head(10)"""),
        ("code", """taxonomy.query(corpus, target="teacher-feature", masking="block-wise")[
    ["method", "year", "target", "masking", "in1k_ft_top1"]]"""),
        ("md", """Free-text search ranks papers by similarity of title (and abstract, where given) to the query:"""),
        ("code", """taxonomy.query(corpus, search="predicting features of a momentum teacher", limit=5)[
    ["method", "title", "year", "score"]]"""),
        ("md", """## Reported results by year"""),
        ("code", """from IPython.display import display

from taxonomy.render.plotting import plot_reported_results
from taxonomy.corpus.stats import compute_reported_results

results = compute_reported_results(corpus)
display(plot_reported_results(results))
results.sort_values("value", ascending=False).head()"""),
        ("md", """## Place a new paper

Candidate nodes come with calibrated scores (fitted by leave-one-out on the corpus)."""),
        ("code", """taxonomy.place("Masked autoencoders for self-supervised learning on LiDAR point clouds", corpus=corpus)"""),
    ],
    "03_reference_implementations.ipynb": [
        ("md", """# 3. Reference implementations

Build a method on the shared blocks, look at its masks and reconstructions, run a smoke pretraining with the
three-arm evaluation on the CPU, and read a committed GPU verification report when one exists."""),
        ("code", """import matplotlib.pyplot as plt
import torch

from reference_impls import METHODS, build_method
from reference_impls.data import shapes
from reference_impls.masking import block_mask, coarse_random_mask, random_mask

[(m.name, m.target, m.masking) for m in METHODS.values()]"""),
        ("code", """data = shapes(seed=0, pool=2048)
images = data.test_x[torch.arange(0, 1000, 100)]
fig, axes = plt.subplots(1, 10, figsize=(12, 1.5))
for ax, img, label in zip(axes, images, data.test_y[torch.arange(0, 1000, 100)]):
    ax.imshow((img * 0.25 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
    ax.set_title(data.classes[int(label)], fontsize=7)
    ax.axis("off")"""),
        ("md", """Masks have exact ratios and static shapes: random (MAE), random on a coarser grid (SimMIM), block-wise (BEiT)."""),
        ("code", """g = torch.Generator().manual_seed(0)
masks = {"random 75%": random_mask(1, 8, 0.75, g), "coarse 60%": coarse_random_mask(1, 8, 0.6, 8, 4, g),
         "block-wise 40%": block_mask(1, 8, 0.4, g)}
fig, axes = plt.subplots(1, 3, figsize=(6, 2))
for ax, (name, mask) in zip(axes, masks.items()):
    ax.imshow(mask.reshape(8, 8).numpy(), cmap="gray_r")
    ax.set_title(f"{name}: {int(mask.sum())} / 64", fontsize=8)
    ax.axis("off")"""),
        ("md", """A short MAE pretraining on the CPU, with the reconstruction before and after:"""),
        ("code", """from reference_impls.patches import patchify, unpatchify
from reference_impls.train import TrainConfig, pretrain

torch.manual_seed(0)
mae = build_method("mae", image_size=32, patch=4, channels=3, size="micro")

def show(method, title):
    torch.manual_seed(1)
    mask, pred = method.reconstruct(images[:6])
    patches = patchify(images[:6], 4)
    recon = unpatchify(torch.where(mask[..., None], pred, patches), 4, 3, 32, 32)
    fig, axes = plt.subplots(1, 6, figsize=(8, 1.6))
    for ax, img in zip(axes, recon):
        ax.imshow((img * 0.25 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
        ax.axis("off")
    fig.suptitle(title, fontsize=9)

show(mae, "before pretraining")
log = pretrain(mae, data, TrainConfig(steps=150, batch_size=64, lr=2e-3, warmup_steps=10), progress=False)
show(mae, f"after 150 steps (held-out loss {log['heldout_loss_before']:.3f} -> {log['heldout_loss_after']:.3f})")"""),
        ("md", """The whole experiment as `mimtax run mae --preset smoke --device cpu` runs it: four arms (pretrained,
random init, raw pixels, pooled HOG), linear probe, k-NN and few-label fine-tune (here one seed; the smoke preset runs three). A smoke run
never gives a verdict; with five seeds or more, "helped" needs the primary probe's interval (a t test over
seeds, with the test images' variance) to clear +2 points over random init and to beat pixels and chance;
beating HOG is judged separately."""),
        ("code", """import tempfile

from IPython.display import Markdown, display

from reference_impls.runner import report_markdown, run_experiment

report = run_experiment("mae", data="shapes", preset="smoke", device="cpu", seeds=1, out=tempfile.mkdtemp(),
                        progress=False)  # one seed: a look at the report; a verdict needs a verify run
display(Markdown(report_markdown(report)))"""),
        ("md", """## Verification

`mimtax verify` judges all eight methods in one budgeted run; its summaries are committed under
`reports/verification/` (`cpu/` for the CPU-scale run)."""),
        ("code", """from pathlib import Path

found = sorted(Path("../reports/verification").rglob("summary.md"))
if found:
    for path in found:
        display(Markdown(path.read_text()))
else:
    print("No verification summary is committed yet.")"""),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(src, id=f"cell-{i}") if kind == "md" else new_code_cell(src, id=f"cell-{i}")
                                 for i, (kind, src) in enumerate(cells)])  # fixed ids: same file every run
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
