"""Facets for every paper: curated where a source gives them, inferred from the text only where a rule has
evidence, and `unknown` otherwise.

Four facets: the recovery `target` (pixel, teacher-feature, discrete-token, HOG-or-handcrafted, contrastive, …),
the `masking` strategy (random, block-wise, attention-guided, learned-adversarial, …), the `backbone` (ViT, CNN,
ViT (hierarchical), …) and the `modality` (image, video, point-cloud, audio, vision-language, …). The curated
values are the corpus's own `target` / `masking` / `backbone` columns (from the crosswalk, see data/SOURCES.md);
a paper the crosswalk leaves without a backbone takes the family of the backbones its reported results name
(results.csv, rule `results`).

An inferred value comes from a `cue` (words of the title: "tokenizer" -> discrete-token) or, for the
modality, a `label` (survey A filed the paper under a heading that names one: Video Representation -> video).
There is no default: where no cue fires the facet is `unknown`. A value's cue answers only when, on the curated
papers where it would decide, it was right at least 85 % of the time (on at least 2 of them): a cue that is often
wrong abstains.

Papers outside masked modelling (`in_scope` False: no word of masking in the title, and either a word of another
generative paradigm -- autoregressive, next-token, GPT, diffusion -- or only survey A headings that also gather
unmasked work) get no inferred facet at all; nor do papers with no evidence either way (`in_scope` None: no word of
masking, no survey heading).

The confidence shown on an inferred value is its facet's accuracy by leave-one-out cross-validation on the
curated papers (`evaluate`): each curated paper is inferred by the cues chosen on the other curated papers only.
Queries match inferred values only where that accuracy reaches 0.85. No source gives the modality; its cues are
scored against the modality that survey A's headings imply, and a heading's own modality is not scored (its
confidence is None).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from taxonomy.corpus.folder import Corpus

FACETS = ("target", "masking", "backbone", "modality")
CURATED = ("target", "masking", "backbone")  # the corpus columns a source fills
UNKNOWN = "unknown"
MIN_PRECISION = 0.85  # a cue answers only when it was at least this often right on the curated papers
MIN_SUPPORT = 2  # ... measured on at least this many of them (most value cues fire on 2-5 curated papers)
CONFIDENT = 0.85  # queries match inferred values whose facet's cross-validated accuracy reaches this

# One cue per value: its words, written by meaning (not fitted). In priority order: the first chosen cue that fires
# wins; for `target`, every chosen cue that fires is kept ("pixel+teacher-feature"), as the curated values do.
CUES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "target": [
        ("HOG-or-handcrafted", (r"\bhog\b", "histograms? of oriented", "hand-?crafted feature")),
        ("discrete-token", (r"\btokeni[sz]er", r"\bvisual tokens?\b", r"\bvq-?", "vector[- ]quanti", r"\bdiscrete\b",
                            "codebook", r"\bd?vae\b")),
        # not "feature prediction": HOG is a feature too; the words must name a learned network's features
        ("teacher-feature", (r"\bteacher", "distill", r"\bclip\b", "joint[- ]embedding", r"\bjepa\b", "data2vec",
                             "latent (?:space )?prediction", "bootstrap")),
        ("contrastive", ("contrastive", "siamese", "instance discrimination")),
        # not "autoencoder", "reconstruct", "MAE": they name masked modelling itself, whatever is reconstructed
        ("pixel", (r"\bpixels?\b", r"\braw (?:image|rgb)", "normali[sz]ed pixel")),
    ],
    "masking": [
        ("attention-guided", ("attention[- ](?:guided|driven)", "attentive mask", "semantic(?:ally)?[- ]guided mask",
                              "saliency", "informed mask")),
        # a mask that is learned, not "learning masked ..." (MetaMAE, Mask3D) or "learning to mask and permute"
        ("learned-adversarial", ("adversarial mask", r"learn(?:ed|able) mask(?:s|ing)?\b", "learning where to mask",
                                 "mask generator", "adaptive mask", "automask")),
        ("block-wise", ("block[- ]?wise", "blockwise", r"\bblock mask", "tube mask", r"\bgrid mask")),
        ("random", ("random(?:ly)? mask", "mask(?:ing)? random", "high masking ratio")),
    ],
    "backbone": [
        ("ViT+CNN", ("convolution(?:s|al)? and transformers?", "cnns? and (?:vision )?transformers?")),
        # one network mixing convolution and attention (ConvMAE's kind), not a method for both kinds of backbone
        ("hybrid", (r"\bhybrid\b", r"convolution(?:al)?[- ]stem")),
        ("ViT (hierarchical)", (r"\bswin\b", "hierarchical (?:vision )?transformer",
                                r"pyramid(?:[- ]based)? vision transformer", r"hiera\b")),
        ("CNN", (r"\bcnns?\b", r"convnets?\b", "convnext", "resnet", "convolutional network", "sparse convolution")),
        ("ViT", (r"\bvit\b", "vision transformers?", r"\btransformers?\b")),
    ],
    "modality": [
        ("point-cloud", ("point[- ]clouds?", r"\b3d\b", "lidar", "mesh")),
        ("video", (r"\bvideos?\b", "spatio-?temporal", r"\baction recognition")),
        ("audio", (r"\baudio\b", "speech", "spectrogram", "sound")),
        ("vision-language", ("vision[- ]language", "image[- ]text", "language[- ]image", "multi-?modal", "captions?",
                             r"\bclip\b")),
        ("medical", ("medical", "radiolog", r"\bct\b", r"\bmri\b", "x-?ray", "patholog", "histolog")),
        ("remote-sensing", ("remote sensing", "satellite", "aerial", "hyperspectral")),
        ("protein", ("protein", r"\bdna\b", "genom")),
        ("molecule", ("molecul",)),
        ("time-series", ("time[- ]series", r"\beeg\b", r"\bfmri\b", "neural (?:signal|activity)")),
        ("tabular", ("tabular",)),
        ("graph", (r"\bgraphs?\b",)),
        ("image", (r"\bimages?\b", r"\bimagenet\b", r"\bvisual\b", r"\bvision\b", r"\bvit\b")),
    ],
}
# survey A headings that fix a paper's modality (the first heading of a paper that names one wins)
LABEL_MODALITY = {
    "downstream/video": "video", "downstream/3d": "point-cloud", "audio-speech": "audio",
    "fundamental/multi-modality": "vision-language", "ai-for-science/protein": "protein",
    "downstream/medical": "medical", "downstream/remote-sensing": "remote-sensing",
    "time-series-neuro": "time-series", "tabular": "tabular", "ai-for-science/physics": "physics",
    "ai-for-science/chemistry": "molecule",
    **{f"fundamental/{n}": "image" for n in ("transformers", "contrastive", "transformers-and-cnns",
                                             "advanced-masking", "generalist", "unified-generation")},
    **{f"downstream/{n}": "image" for n in ("detection-segmentation", "distillation-few-shot", "efficient-finetuning",
                                            "face-recognition", "ocr", "low-level-vision", "depth-estimation")},
}
# a point encoder, a protein or graph model is not a "vision transformer" even when the text says transformer
NO_VISION_BACKBONE = ("point-cloud", "protein", "molecule", "graph", "tabular", "time-series")
# The evidence that a paper is masked modelling: a word of masking in its text, survey B's list (a survey of
# masked image modeling), or a survey A heading other than the broad ones that also gather unmasked generators,
# general analyses and surveys.
MASKING_WORDS = re.compile(r"mask|\bmim\b|\bmae\b|\bbert\b|\bbeit\b|inpaint", re.I)
BROAD_HEADINGS = ("fundamental/image-generation", "analysis", "survey")
# the other generative paradigms (the autoregressive generators, and diffusion): without a word of masking,
# a paper that names one is not masked modelling, whatever heading survey A gives it
OTHER_PARADIGMS = re.compile(r"auto-?regress|next[- ]token|\bgpt\b|diffusion|text-to-(?:image|video)", re.I)
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


# one cue per value (its words as one pattern), in priority order
_COMPILED = {facet: [(value, re.compile("|".join(words), re.I)) for value, words in rules]
             for facet, rules in CUES.items()}


@dataclass(frozen=True)
class Inferred:
    value: str  # UNKNOWN when no rule has evidence
    rule: str  # cue | label | none | out-of-scope


@lru_cache(maxsize=16384)
def fired_cues(facet: str, text: str) -> tuple[bool, ...]:
    """Which of the facet's cues fire on a text (a point-cloud, protein, ... text fires no backbone cue: its
    transformer is not a vision transformer)."""
    if facet == "backbone" and _modality_cue(text) in NO_VISION_BACKBONE:
        return (False,) * len(_COMPILED[facet])
    return tuple(bool(pattern.search(text)) for _, pattern in _COMPILED[facet])


def _modality_cue(text: str) -> str:
    return next((value for value, pattern in _COMPILED["modality"] if pattern.search(text)), "")


def answer(facet: str, fired: tuple[bool, ...], chosen: frozenset[int] | None = None) -> str:
    """The value the chosen cues give (UNKNOWN when none fires): the first one in priority order, or for the
    target every value that fires, joined with '+'. `chosen`: cue indexes; all cues when None."""
    values = [value for k, (value, _) in enumerate(_COMPILED[facet]) if fired[k] and (chosen is None or k in chosen)]
    if not values:
        return UNKNOWN
    return "+".join(dict.fromkeys(values)) if facet == "target" else values[0]


def infer(facet: str, text: str, labels: tuple[str, ...] = (), chosen: frozenset[int] | None = None) -> Inferred:
    """One facet of one paper from its text (title, and abstract where known) and survey A labels."""
    if facet == "modality":
        implied = label_modality(labels)
        if implied:
            return Inferred(implied, "label")
    value = answer(facet, fired_cues(facet, text), chosen)
    return Inferred(value, "none" if value == UNKNOWN else "cue")


def label_modality(labels) -> str:
    """The modality a survey A heading implies ('' when none does)."""
    for label in labels:
        for node, value in LABEL_MODALITY.items():
            if label == node or label.startswith(node + "/"):
                return value
    return ""


def scope(title: str, survey_a: tuple[str, ...] = (), survey_b: tuple[str, ...] = ()) -> tuple[bool | None, str]:
    """Whether a paper is masked modelling (None: no evidence either way), and the evidence (one short phrase)."""
    word = MASKING_WORDS.search(title)
    if word:
        return True, f"the title says '{word.group(0).lower()}'"
    if survey_b:
        return True, "survey B (a survey of masked image modeling) lists it"
    other = OTHER_PARADIGMS.search(title)
    if other:
        return False, f"no word of masking in the title, which says '{other.group(0).lower()}'"
    specific = [label for label in survey_a if not any(label == b or label.startswith(b + "/") for b in BROAD_HEADINGS)]
    if specific:
        return True, f"survey A files it under {specific[0]}"
    if survey_a:
        return False, f"no word of masking in the title; survey A files it only under {', '.join(survey_a)}"
    return None, "no word of masking in the title and no survey heading: no evidence either way"


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """95 % Wilson score interval of a proportion (None, None when n is 0)."""
    if n == 0:
        return None, None
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def is_right(inferred: str, truth: str) -> bool:
    """Every part the rule claims is in the true value ('pixel' is right for 'pixel+contrastive'; 'pixel+teacher-
    feature' is wrong for 'pixel', since a query for teacher-feature would then list it wrongly)."""
    return set(inferred.split("+")) <= set(truth.split("+"))


def choose_cues(facet: str, fired: list[tuple[bool, ...]], truths: list[str]) -> frozenset[int]:
    """The cues that answer, chosen on papers with a known value: a cue is kept when, on the papers where it would
    give the answer (for the target: where it fires; otherwise: where no cue kept before it fires), it fires on at
    least MIN_SUPPORT papers and is right on at least MIN_PRECISION of them."""
    chosen: list[int] = []
    rows = [(row, truth) for row, truth in zip(fired, truths) if truth and any(row)]
    for k, (value, _) in enumerate(_COMPILED[facet]):
        decides = [truth for row, truth in rows if row[k] and (facet == "target" or not any(row[j] for j in chosen))]
        if len(decides) >= MIN_SUPPORT and sum(is_right(value, t) for t in decides) >= MIN_PRECISION * len(decides):
            chosen.append(k)
    return frozenset(chosen)


def truth_values(corpus: Corpus, facet: str) -> list[str]:
    """The value a source gives each paper ('' when none): the crosswalk's column, or for the modality the one
    survey A's heading implies."""
    if facet == "modality":  # every modality its headings imply: a 3D video paper filed under both is right as either
        return ["+".join(dict.fromkeys(v for label in labels if (v := label_modality((label,)))))
                for labels in _labels(corpus, "awesome-mim")]
    return corpus.papers[facet].tolist() if facet in corpus.papers else [""] * len(corpus)


def _labels(corpus: Corpus, name: str) -> list[tuple[str, ...]]:
    return [tuple(ls) for ls in corpus.labels(name)] if name in corpus.taxonomies else [()] * len(corpus)


def _texts(corpus: Corpus, abstracts) -> list[str]:
    from taxonomy.corpus.store import store_rows
    from taxonomy.corpus.text import paper_texts

    return paper_texts(corpus.papers, abstracts, store_rows(corpus)).combined()


def compute_scope(corpus: Corpus) -> pd.DataFrame:
    """Per paper: `in_scope` (True, False, or None where nothing says) and the evidence. Decided on the title and
    the survey headings, not the abstract: abstracts name masking in passing (masked language modelling as background,
    segmentation masks), which on the dev abstracts let more unmasked papers in than it kept masked ones."""
    rows = [scope(str(title), a, b) for title, a, b in zip(corpus.papers["title"], _labels(corpus, "awesome-mim"),
                                                            _labels(corpus, "mim-survey"))]
    return pd.DataFrame({"id": corpus.papers["id"].to_numpy(),
                         "in_scope": pd.Series([r[0] for r in rows], dtype=object),
                         "scope_evidence": [r[1] for r in rows]})


def cross_validated_answers(facet: str, texts: list[str], truths: list[str],
                            in_scope: list[bool | None] | None = None) -> dict[int, str]:
    """Leave-one-out: for each paper with a known value, the answer of the cues chosen on the other papers alone
    (UNKNOWN when none answers or the paper is out of scope)."""
    known = [i for i, t in enumerate(truths) if t]
    fired = {i: fired_cues(facet, texts[i]) for i in known}
    answers = {}
    for i in known:
        if in_scope is not None and in_scope[i] is not True:
            answers[i] = UNKNOWN
            continue
        if not any(fired[i]):  # the same answer whatever the cues chosen
            answers[i] = answer(facet, fired[i], frozenset())
            continue
        others = [j for j in known if j != i]
        chosen = choose_cues(facet, [fired[j] for j in others], [truths[j] for j in others])
        answers[i] = answer(facet, fired[i], chosen)
    return answers


def evaluate(corpus: Corpus, abstracts=None, texts: list[str] | None = None) -> pd.DataFrame:
    """Leave-one-out accuracy of each facet's inferred values on the papers a source gives a value for (see
    `cross_validated_answers`). Columns: facet, n (papers with a source value), answered, correct, accuracy (where it
    answers) with its 95 % Wilson interval (low, high), coverage (answered / n)."""
    texts = _texts(corpus, abstracts) if texts is None else texts
    in_scope = compute_scope(corpus)["in_scope"].tolist()
    rows = []
    for facet in FACETS:
        truths = truth_values(corpus, facet)
        answers = {i: a for i, a in cross_validated_answers(facet, texts, truths, in_scope).items() if a != UNKNOWN}
        n = sum(1 for t in truths if t)
        correct = sum(is_right(a, truths[i]) for i, a in answers.items())
        low, high = wilson(correct, len(answers))
        rows.append(dict(facet=facet, n=n, answered=len(answers), correct=correct,
                         accuracy=round(correct / len(answers), 3) if answers else None, low=low, high=high,
                         coverage=round(len(answers) / n, 3) if n else None))
    return pd.DataFrame(rows)


def evaluate_scope(corpus: Corpus, labels: dict[str, bool]) -> pd.DataFrame:
    """How the `in_scope` rule agrees with hand labels (paper id -> in scope): per rule answer (out / in), the
    labelled papers it covers and the share the labels agree with, with its 95 % Wilson interval."""
    scoped = compute_scope(corpus).set_index("id")
    rows = []
    for says, name in ((False, "out"), (True, "in")):
        ids = [pid for pid in labels if pid in scoped.index and scoped.at[pid, "in_scope"] is says]
        right = sum(labels[pid] == says for pid in ids)
        low, high = wilson(right, len(ids))
        rows.append(dict(rule_says=name, labelled=len(ids), agree=right,
                         precision=round(right / len(ids), 3) if ids else None, low=low, high=high,
                         disagree=sorted(pid for pid in ids if labels[pid] != says)))
    return pd.DataFrame(rows)


def compute_facets(corpus: Corpus) -> pd.DataFrame:
    """One row per (paper, facet): value (`unknown` where no rule has evidence), provenance (curated, inferred or
    unknown), the rule, and its confidence (1.0 for curated values; for inferred ones the facet's cross-validated
    accuracy, see `evaluate`; None for a survey heading's modality, which nothing measures).

    Inferred from the title alone: read by hand, the values that abstracts added on papers outside the curated set
    were right 18 to 22 times in 30 (mostly a 'ViT' from 'transformer' said of a generator's token transformer or a
    trajectory model), though leave-one-out on the curated methods scored them high (docs/facets.md)."""
    texts = [str(title) for title in corpus.papers["title"]]
    scoped = compute_scope(corpus)
    evaluation = evaluate(corpus, texts=texts)
    accuracy = evaluation.set_index("facet")["accuracy"]
    survey_a = _labels(corpus, "awesome-mim")
    from_results = corpus.results.groupby("paper_id")["backbone"].agg(backbone_from_results) \
        if len(corpus.results) else pd.Series(dtype=str)
    rows = []
    for facet in FACETS:
        truths = truth_values(corpus, facet)
        chosen = choose_cues(facet, [fired_cues(facet, t) for t in texts], truths)
        curated = corpus.papers[facet] if facet in corpus.papers else pd.Series("", index=corpus.papers.index)
        rule = pd.Series("source", index=corpus.papers.index)
        if facet == "backbone":  # a paper's reported results name its backbone, at a pinned source
            reported = corpus.papers["id"].map(from_results).fillna("")
            rule = rule.where(curated != "", "results")
            curated = curated.where(curated != "", reported)
        for pid, value, how, text, labels, inside in zip(corpus.papers["id"], curated, rule, texts, survey_a,
                                                         scoped["in_scope"]):
            if value:
                rows.append(dict(id=pid, facet=facet, value=value, provenance="curated", rule=how, confidence=1.0))
                continue
            guess = infer(facet, text, labels, chosen) if inside is True else \
                Inferred(UNKNOWN, "out-of-scope" if inside is False else "none")
            if guess.value == UNKNOWN:
                rows.append(dict(id=pid, facet=facet, value=UNKNOWN, provenance="unknown", rule=guess.rule,
                                 confidence=None))
            else:
                confidence = None if guess.rule == "label" else accuracy.get(facet)
                rows.append(dict(id=pid, facet=facet, value=guess.value, provenance="inferred", rule=guess.rule,
                                 confidence=confidence))
    frame = pd.DataFrame(rows, columns=["id", "facet", "value", "provenance", "rule", "confidence"])
    # plain data only in attrs (pandas compares and copies them)
    frame.attrs["in_scope"] = dict(zip(scoped["id"], scoped["in_scope"]))
    frame.attrs["evaluation"] = evaluation.to_dict(orient="records")
    return frame


def is_confident(facets: pd.DataFrame) -> pd.Series:
    """Values a query matches by default: curated ones, a survey heading's modality, and inferred values whose
    facet's cross-validated accuracy reaches CONFIDENT."""
    inferred = facets["provenance"] == "inferred"
    return (facets["provenance"] == "curated") | (inferred & (facets["rule"] == "label")) \
        | (inferred & (facets["confidence"].fillna(0) >= CONFIDENT))


def facet_table(facets: pd.DataFrame) -> pd.DataFrame:
    """Papers x facets: the values, and an `inferred` column naming the facets that were inferred."""
    wide = facets.pivot(index="id", columns="facet", values="value")
    inferred = facets[facets["provenance"] == "inferred"].groupby("id")["facet"].agg(lambda s: ", ".join(sorted(s)))
    wide["inferred"] = inferred.reindex(wide.index).fillna("")
    return wide.reset_index()


def coverage(corpus: Corpus, facets: pd.DataFrame) -> pd.DataFrame:
    """Per facet: papers with a value, how many curated / inferred / unknown, and the share curated (for
    `mimtax corpus info`)."""
    rows = []
    for facet, group in facets.groupby("facet", sort=False):
        curated = int((group["provenance"] == "curated").sum())
        inferred = int((group["provenance"] == "inferred").sum())
        has = curated + inferred
        rows.append(dict(facet=facet, papers=has, curated=curated, inferred=inferred,
                         unknown=int((group["provenance"] == "unknown").sum()),
                         curated_share=round(curated / has, 3) if has else 0.0))
    return pd.DataFrame(rows)


def in_lists(corpus: Corpus) -> pd.Series:
    """The papers the issue asks facets for: survey A's fundamental-methods section and survey B's list."""
    a = corpus.labels("awesome-mim").map(lambda ls: any(x.split("/")[0] == "fundamental" for x in ls)) \
        if "awesome-mim" in corpus.taxonomies else pd.Series(False, index=corpus.papers.index)
    b = corpus.labels("mim-survey").map(bool) if "mim-survey" in corpus.taxonomies else \
        pd.Series(False, index=corpus.papers.index)
    return a | b
