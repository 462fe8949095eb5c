"""Listing collections for the surfaces: which collections there are and their state.

Every sub-folder of the corpus folder is a collection with its own index:

    corpus/                 files directly here: the default collection (name "")
    corpus/rapporten/       collection "rapporten" (everything below this folder)
    index/                  index of the default collection
    index/rapporten/        index of "rapporten"

This module is what a surface needs to show the user the collections to choose from (CLI
`--collection`, web chat, widget, HTTP API):

- `list_collections(settings)` -> [CollectionInfo] (name, label, documents, indexed ...);
- `collections_to_index(settings)` -> the names `qa index` indexes when none is named;
- `collection_label(name)` -> how a collection is shown.

Selecting one (`collection_settings`) and its folders (`corpus_dir`, `index_dir`) are in
`qa.index.paths`; `qa.engine.EngineCache` keeps one loaded Engine per collection.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.index.paths import DEFAULT_COLLECTION, collection_files, collection_names, corpus_dir, index_dir
from qa.index.storage import read_manifest
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
