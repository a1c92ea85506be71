"""Facets for every paper: curated where a source gives them, inferred from the text by rules otherwise.

Four facets: the recovery `target` (pixel, teacher-feature, discrete-token, HOG-or-handcrafted, contrastive, …),
the `masking` strategy (random, block-wise, attention-guided, learned-adversarial, …), the `backbone` (ViT, CNN,
ViT (hierarchical), …) and the `modality` (image, video, point-cloud, audio, vision-language, …). The curated
values are the corpus's own `target` / `masking` / `backbone` columns (from the crosswalk, see data/SOURCES.md);
a paper the crosswalk leaves without a backbone takes the family of the backbones its reported results name
(results.csv, rule `results`).

Each inferred value says which rule gave it: `cue` (a word of the title or abstract: "tokenizer" -> discrete-token,
"point cloud" -> point-cloud), `label` (the survey put the paper under a node that implies it: survey A's Video
Representation -> video) or `default` (no cue: the value most curated papers have). A rule's confidence is its
accuracy on the curated papers, measured every time (the rules are fixed, not fitted to them), so "0.6" means the
rule was right for 60 % of the papers whose value a source gives. No source gives the modality: its cue rule is
checked against the papers whose survey label implies one, and its default is left unmeasured (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from taxonomy.corpus.folder import Corpus

FACETS = ("target", "masking", "backbone", "modality")
CURATED = ("target", "masking", "backbone")  # the corpus columns a source fills

# (value, pattern) in priority order: the first facet value whose pattern matches wins; for `target`, every
# matching value is kept ("pixel+teacher-feature"), as the curated values do.
CUES: dict[str, list[tuple[str, str]]] = {
    "target": [
        ("HOG-or-handcrafted", r"\bhog\b|histograms? of oriented|hand-?crafted feature"),
        ("discrete-token", r"\btokeni[sz]er|\bvisual tokens?\b|\bvq-?|vector[- ]quanti|\bdiscrete\b|codebook|"
                           r"\bd?vae\b"),
        ("teacher-feature", r"\bteacher|distill|\bclip\b|feature prediction|predict(?:ing)? (?:the )?features|"
                            r"joint[- ]embedding|\bjepa\b|data2vec|latent (?:space )?prediction|bootstrap"),
        ("contrastive", r"contrastive|siamese|instance discrimination"),
        ("pixel", r"\bpixels?\b|autoencod|reconstruct|denois|inpaint|\bmae\b"),
    ],
    "masking": [
        ("attention-guided", r"attention[- ](?:guided|driven)|attentive mask|semantic(?:ally)?[- ]guided mask|"
                             r"saliency|informed mask"),
        ("learned-adversarial", r"adversarial mask|learn(?:ed|able|ing)? (?:to )?mask|mask generator|"
                                r"adaptive mask|automask"),
        ("block-wise", r"block[- ]?wise|blockwise|\bblock mask|tube mask|\bgrid mask"),
        ("random", r"random(?:ly)? mask|mask(?:ing)? random|high masking ratio"),
    ],
    "backbone": [
        ("ViT+CNN", r"convolution(?:s|al)? and transformers?|cnns? and (?:vision )?transformers?|hybrid"),
        ("ViT (hierarchical)", r"\bswin\b|hierarchical (?:vision )?transformer|pyramid vision transformer|hiera\b"),
        ("CNN", r"\bcnns?\b|convnets?\b|convnext|resnet|convolutional network|sparse convolution"),
        ("ViT", r"\bvit\b|vision transformers?|\btransformers?\b"),
    ],
    "modality": [
        ("point-cloud", r"point[- ]clouds?|\b3d\b|lidar|mesh"),
        ("video", r"\bvideos?\b|spatio-?temporal|\baction recognition"),
        ("audio", r"\baudio\b|speech|spectrogram|sound"),
        ("vision-language", r"vision[- ]language|image[- ]text|language[- ]image|multi-?modal|captions?|\bclip\b"),
        ("medical", r"medical|radiolog|\bct\b|\bmri\b|x-?ray|patholog|histolog"),
        ("remote-sensing", r"remote sensing|satellite|aerial|hyperspectral"),
        ("protein", r"protein|molecul|\bdna\b|genom"),
        ("time-series", r"time[- ]series|\beeg\b|\bfmri\b|neural (?:signal|activity)"),
        ("tabular", r"tabular"),
        ("graph", r"\bgraphs?\b"),
    ],
}
# survey A nodes that fix a paper's modality
LABEL_MODALITY = {
    "downstream/video": "video", "downstream/3d": "point-cloud", "audio-speech": "audio",
    "fundamental/multi-modality": "vision-language", "ai-for-science/protein": "protein",
    "downstream/medical": "medical", "downstream/remote-sensing": "remote-sensing",
    "time-series-neuro": "time-series", "tabular": "tabular", "ai-for-science/physics": "physics",
    "ai-for-science/chemistry": "molecule",
}
DEFAULTS = {"target": "pixel", "masking": "random", "backbone": "ViT", "modality": "image"}
# the backbone family of a reported result's backbone name (results.csv); generators are left out
RESULT_FAMILIES = [("ViT (hierarchical)", r"^(Swin|SwinV2|HiViT|Hiera|MViTv2)-"), ("hybrid", r"^ConvMAE-"),
                   ("CNN", r"^(ConvNeXt|ResNet|SpUNet)"), ("other", r"^Point-"), ("ViT", r"^ViT-")]


def backbone_from_results(names) -> str:
    """The backbone facet that a paper's reported results show: 'ViT+CNN' when it reports both (an
    architecture-agnostic method), else plain ViT over its hierarchical variants, else the one family."""
    families = {family for name in names for family, pattern in RESULT_FAMILIES if re.match(pattern, str(name))}
    if "CNN" in families and families & {"ViT", "ViT (hierarchical)"}:
        return "ViT+CNN"
    for family in ("ViT", "ViT (hierarchical)", "hybrid", "CNN", "other"):
        if family in families:
            return family
    return ""


_COMPILED = {facet: [(value, re.compile(pattern, re.I)) for value, pattern in rules] for facet, rules in CUES.items()}


@dataclass(frozen=True)
class Inferred:
    value: str
    rule: str  # cue | label | default


def infer(facet: str, text: str, labels: tuple[str, ...] = ()) -> Inferred:
    """One facet of one paper from its text (title, and abstract where known) and survey A labels."""
    if facet == "modality":
        for label in labels:
            for node, value in LABEL_MODALITY.items():
                if label == node or label.startswith(node + "/"):
                    return Inferred(value, "label")
    hits = [value for value, pattern in _COMPILED[facet] if pattern.search(text)]
    if hits:
        return Inferred("+".join(hits) if facet == "target" else hits[0], "cue")
    return Inferred(DEFAULTS[facet], "default")


def _agrees(inferred: str, curated: str) -> bool:
    """An inferred value is right when it shares a part with the curated one ('pixel' vs 'pixel+contrastive')."""
    return bool(set(inferred.split("+")) & set(curated.split("+"))) or inferred == curated


def compute_facets(corpus: Corpus, abstracts=None) -> pd.DataFrame:
    """One row per (paper, facet): value, `curated` or `inferred`, the rule, and its confidence (the rule's
    accuracy on the curated papers; 1.0 for curated values)."""
    from taxonomy.corpus.store import store_rows
    from taxonomy.corpus.text import paper_texts

    texts = paper_texts(corpus.papers, abstracts, store_rows(corpus)).combined()
    survey_a = list(corpus.labels("awesome-mim")) if "awesome-mim" in corpus.taxonomies else [()] * len(corpus)
    rows = []
    from_results = corpus.results.groupby("paper_id")["backbone"].agg(backbone_from_results) \
        if len(corpus.results) else pd.Series(dtype=str)
    for facet in FACETS:
        curated = corpus.papers[facet] if facet in corpus.papers else pd.Series("", index=corpus.papers.index)
        rule = pd.Series("source", index=corpus.papers.index)
        if facet == "backbone":  # a paper's reported results name its backbone, at a pinned source
            reported = corpus.papers["id"].map(from_results).fillna("")
            rule = rule.where(curated != "", "results")
            curated = curated.where(curated != "", reported)
        inferred = [infer(facet, text, tuple(labels)) for text, labels in zip(texts, survey_a)]
        if facet == "modality":  # no source gives it: the cue rule is checked against the survey-implied value
            implied = [g.value if g.rule == "label" else "" for g in inferred]
            accuracy = _rule_accuracy([infer(facet, text) for text in texts], implied)
            accuracy.update(label=1.0, default=None)
        else:
            accuracy = _rule_accuracy(inferred, curated.tolist())
        for pid, value, guess, how in zip(corpus.papers["id"], curated, inferred, rule):
            if value:
                rows.append(dict(id=pid, facet=facet, value=value, provenance="curated", rule=how,
                                 confidence=1.0))
            else:
                rows.append(dict(id=pid, facet=facet, value=guess.value, provenance="inferred", rule=guess.rule,
                                 confidence=accuracy.get(guess.rule)))
    return pd.DataFrame(rows, columns=["id", "facet", "value", "provenance", "rule", "confidence"])


def _rule_accuracy(inferred: list[Inferred], curated: list[str]) -> dict[str, float | None]:
    """Per rule kind: the share of curated papers (with a value other than 'other') it got right; None when
    fewer than 5 curated papers fall to that rule."""
    out: dict[str, float | None] = {}
    for rule in ("cue", "label", "default"):
        pairs = [(g.value, c) for g, c in zip(inferred, curated) if g.rule == rule and c and c != "other"]
        out[rule] = round(sum(_agrees(g, c) for g, c in pairs) / len(pairs), 3) if len(pairs) >= 5 else None
    return out


def facet_table(facets: pd.DataFrame) -> pd.DataFrame:
    """Papers x facets: the values, and an `inferred` column naming the facets that were inferred."""
    wide = facets.pivot(index="id", columns="facet", values="value")
    inferred = facets[facets["provenance"] == "inferred"].groupby("id")["facet"].agg(lambda s: ", ".join(sorted(s)))
    wide["inferred"] = inferred.reindex(wide.index).fillna("")
    return wide.reset_index()


def coverage(corpus: Corpus, facets: pd.DataFrame) -> pd.DataFrame:
    """Per facet: papers with a value, how many curated, and the share curated (for `mimtax corpus info`)."""
    rows = []
    for facet, group in facets.groupby("facet", sort=False):
        has = group[group["value"] != ""]
        curated = int((has["provenance"] == "curated").sum())
        rows.append(dict(facet=facet, papers=len(has), curated=curated, inferred=len(has) - curated,
                         curated_share=round(curated / len(has), 3) if len(has) else 0.0))
    return pd.DataFrame(rows)


def in_lists(corpus: Corpus) -> pd.Series:
    """The papers the issue asks facets for: survey A's fundamental-methods section and survey B's list."""
    a = corpus.labels("awesome-mim").map(lambda ls: any(x.split("/")[0] == "fundamental" for x in ls)) \
        if "awesome-mim" in corpus.taxonomies else pd.Series(False, index=corpus.papers.index)
    b = corpus.labels("mim-survey").map(bool) if "mim-survey" in corpus.taxonomies else \
        pd.Series(False, index=corpus.papers.index)
    return a | b

