"""``qa eval template --out vragen.csv``: an empty question file for Excel with Dutch column
names (``id;vraag;antwoord;beantwoordbaar;bewijs;trefwoorden;soort;bewijs_pagina;bewijs_sectie``)
and three example rows that show every kind of value.
"""

from __future__ import annotations

from pathlib import Path

from qa.eval.results_csv import excel_writer

__all__ = ["TEMPLATE_COLUMNS", "TEMPLATE_ROWS", "write_template"]

#: The Dutch column names of the template, in order (:data:`qa.eval.questions.DUTCH_COLUMNS`).
TEMPLATE_COLUMNS = ["id", "vraag", "antwoord", "beantwoordbaar", "bewijs", "trefwoorden", "soort",
                    "bewijs_pagina", "bewijs_sectie"]

#: Example rows: a definition with its section, a fact with its page (a PDF), an unanswerable question.
TEMPLATE_ROWS = [
    ["v1", "Wat is doorvoelde kennis?", "Kennis die ontstaat in contact met de ander.", "ja",
     "Doorvoelde kennis ontstaat in contact met de ander, tijdens het gesprek.", "contact met de ander",
     "definitie", "", "Doorvoelde kennis"],
    ["v2", "Hoeveel stappen heeft de meldcode?", "Vijf stappen.", "ja",
     "De meldcode bestaat uit vijf stappen", "vijf stappen", "feit", "12", ""],
    ["v3", "Wat kost een parkeervergunning in Utrecht?", "", "nee", "", "", "onbeantwoordbaar", "", ""],
]


def write_template(path: Path) -> Path:
    """Write the template as CSV for Excel with Dutch regional settings (UTF-8 with BOM,
    ``;``, ``\\r\\n``). Raises ``FileExistsError`` (Dutch message) rather than overwrite a
    file. Out: the path."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} bestaat al; kies een andere naam met --out of verwijder het bestand eerst")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = excel_writer(fh)
        writer.writerow(TEMPLATE_COLUMNS)
        writer.writerows(TEMPLATE_ROWS)
    return path
