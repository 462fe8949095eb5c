"""Index: passages -> a build on disk (vectors, BM25, manifest) and the loaded `Index`.

`build` scans the corpus, embeds what changed and writes a build atomically; it also loads
builds and checks them. `collections` maps corpus sub-folders to collections and their index
folders; `lexical` is the BM25 index and the term analysis shared with retrieval and
answering; `spelling` counts the corpus vocabulary (and corrects questions against it);
`vectors` is the vector-store seam (FAISS, Milvus). May import: `qa.ingest`, `qa.types`,
`qa.errors`, `qa.settings`, `embeddings`.
"""
