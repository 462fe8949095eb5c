"""Source view: a citation shown in its original document.

- `pdf`: a PDF page rendered as PNG (pypdfium2) and the character boxes of a quote on it,
  found at view time in the page's own text (the PDF loader is not involved);
- `reading`: the reading view of an HTML, DOCX, Markdown or text document as the loader
  read it (headings, paragraphs, list items, table rows), with the quoted span marked;
- `locate`: a citation (passage id + quote offsets) resolved in a loaded index to its
  document, passage(s) and quote, with the document's state (unchanged, changed, removed);
- `links`: the URL of a citation's view, shared by every surface (chat, widget, LTI, report).

May import: `qa.ingest`, `qa.index`, `qa.types`, `qa.errors`, `qa.settings`. The web routes
are `qa.web.source_view`.
"""
