"""Collection names and folders: which corpus folder and which index folder a collection has.

Every sub-folder of the corpus folder is a collection with its own index in `<index>/<name>/`;
the files directly in the corpus folder are the default collection (`settings.collection ==
""`), indexed in `<index>/` itself. `corpus_dir(settings)` and `index_dir(settings)` give the
folders of the selected collection, `collection_settings(settings, name)` selects one.
"""

from __future__ import annotations

import re
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.load import find_files
from qa.settings import Settings

DEFAULT_COLLECTION = ""
_BAD_COLLECTION = re.compile(r"^(\.|build-)|\.tmp$|[/\\]|^CURRENT$")


def check_collection(name: str) -> str:
    """`name` if it can be a collection (a plain folder name), else CorpusError."""
    if name and (_BAD_COLLECTION.search(name) or name in {".", ".."}):
        raise CorpusError(f"Ongeldige collectienaam '{name}': gebruik de naam van een map in het corpus "
                          "(niet beginnend met '.' of 'build-').")
    return name


def corpus_dir(settings: Settings) -> Path:
    """The folder with the documents of the selected collection (`settings.collection`)."""
    name = check_collection(getattr(settings, "collection", DEFAULT_COLLECTION))
    return Path(settings.corpus) / name if name else Path(settings.corpus)


def index_dir(settings: Settings) -> Path:
    """The index folder of the selected collection: `<index>/<name>/`, or `<index>/` itself
    for the default collection."""
    name = check_collection(getattr(settings, "collection", DEFAULT_COLLECTION))
    return Path(settings.index) / name if name else Path(settings.index)


def collection_names(corpus: Path) -> list[str]:
    """Names of the collections in a corpus folder: its sub-folders (sorted; hidden ones and
    names that cannot be a collection are left out). The default collection is not listed."""
    corpus = Path(corpus)
    if not corpus.is_dir():
        return []
    return sorted(p.name for p in corpus.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and not _BAD_COLLECTION.search(p.name))


def collection_files(settings: Settings) -> list[Path]:
    """The files of the selected collection: everything below its folder, or for the
    default collection only the files directly in the corpus folder."""
    return find_files(corpus_dir(settings), recursive=bool(getattr(settings, "collection", "")))


def unknown_collection(settings: Settings, name: str) -> CorpusError:
    """The Dutch error for a collection `name` that is not a folder in `settings.corpus`,
    listing the collections there are."""
    available = ", ".join(collection_names(Path(settings.corpus))) or "(geen)"
    return CorpusError(f"Collectie '{name}' bestaat niet in '{settings.corpus}'. "
                       f"Beschikbare collecties: {available}.")


def collection_settings(settings: Settings, name: str | None) -> Settings:
    """`settings` for collection `name` (None or "" = the default collection).

    Raises CorpusError (Dutch message listing the collections) for a name that is not a
    folder in the corpus."""
    name = check_collection(name or DEFAULT_COLLECTION)
    if name and not (Path(settings.corpus) / name).is_dir():
        raise unknown_collection(settings, name)
    return settings.replace(collection=name)
