"""Collections: every sub-folder of the corpus folder is a collection with its own index.

    corpus/                 files directly here: the default collection (name "")
    corpus/rapporten/       collection "rapporten" (everything below this folder)
    index/                  index of the default collection
    index/rapporten/        index of "rapporten"

This module is what a surface needs to let the user choose a collection (CLI
`--collection`, web chat, widget, HTTP API):

- `list_collections(settings)` -> [CollectionInfo] (name, label, documents, indexed ...);
- `collection_settings(settings, name)` -> Settings for that collection (checks the name);
- `EngineCache(settings).get(name)` -> the Engine of a collection, loaded (and indexed when
  needed) once, all collections sharing one loaded embedder; thread-safe.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.errors import CorpusError
from qa.index.build import (
    DEFAULT_COLLECTION,
    check_collection,
    collection_files,
    collection_names,
    corpus_dir,
    index_dir,
    read_manifest,
)
from qa.ingest.load import SUPPORTED_SUFFIXES
from qa.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_LABEL = "standaard"


def collection_label(name: str) -> str:
    """How a collection is shown to the user: its name, or "standaard" for the default one."""
    return name or DEFAULT_LABEL


@dataclass
class CollectionInfo:
    name: str              # "" for the default collection
    label: str             # for display
    corpus: str            # its document folder
    index: str             # its index folder
    documents: int         # supported files in the folder now
    indexed: bool          # an index has been built (it may be out of date)
    passages: int | None   # passages in that index

    def to_dict(self) -> dict:
        return asdict(self)


def _supported_files(settings: Settings) -> list[Path]:
    return [p for p in collection_files(settings) if p.suffix.lower() in SUPPORTED_SUFFIXES]


def list_collections(settings: Settings) -> list[CollectionInfo]:
    """The collections of `settings.corpus`: the default one first (only when it has
    documents of its own), then every sub-folder by name."""
    out = []
    for name in [DEFAULT_COLLECTION] + collection_names(Path(settings.corpus)):
        s = settings.replace(collection=name)
        files = _supported_files(s) if corpus_dir(s).is_dir() else []
        if name == DEFAULT_COLLECTION and not files:
            continue
        manifest = read_manifest(index_dir(s))
        out.append(CollectionInfo(
            name=name, label=collection_label(name), corpus=str(corpus_dir(s)), index=str(index_dir(s)),
            documents=len(files), indexed=manifest is not None,
            passages=manifest.get("n_passages") if manifest else None))
    return out


def collections_to_index(settings: Settings) -> list[str]:
    """What `qa index` without `--collection` indexes: every collection in the corpus
    folder, the default one first. Only the default one when there are no sub-folders (so
    a missing or empty corpus folder gives its usual error)."""
    names = [c.name for c in list_collections(settings)]
    return names or [DEFAULT_COLLECTION]


def collection_settings(settings: Settings, name: str | None) -> Settings:
    """`settings` for collection `name` (None or "" = the default collection).

    Raises CorpusError (Dutch message listing the collections) for a name that is not a
    folder in the corpus."""
    name = check_collection(name or DEFAULT_COLLECTION)
    if name and not (Path(settings.corpus) / name).is_dir():
        available = ", ".join(collection_names(Path(settings.corpus))) or "(geen)"
        raise CorpusError(f"Collectie '{name}' bestaat niet in '{settings.corpus}'. "
                          f"Beschikbare collecties: {available}.")
    return settings.replace(collection=name)


