"""How to store a build's passages: SQLite (JSON or zlib-compressed JSON per row) against an
Arrow IPC file (memory-mapped, plain or zstd), on synthetic passages (benchmarks/synthetic.py).

Per store: write seconds, bytes per passage on disk, microseconds to read one passage by row
(3,000 random rows, as a search hit reads them) and seconds to read all of them in order
(BM25 build, vocabulary). qa uses SQLite + zlib (`qa/index/table.py`); docs/scale.md has the
figures.

    python benchmarks/passage_store.py --n 200000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synthetic import synthetic_passages  # noqa: E402

from qa.types import Passage  # noqa: E402


def report(name, path, n, write_s, read_one, iterate, rows) -> None:
    size = os.path.getsize(path)
    t = time.perf_counter()
    for r in rows:
        read_one(r)
    one = (time.perf_counter() - t) / len(rows) * 1e6
    t = time.perf_counter()
    count = sum(1 for _ in iterate())
    assert count == n
    print(f"{name:34s} write {write_s:5.1f} s  {size / n:6.0f} B/passage  read one {one:6.1f} µs  "
          f"read all {time.perf_counter() - t:5.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args(argv)
    import pyarrow as pa
    import pyarrow.ipc as ipc

    n = args.n
    passages = []
    for i, text in enumerate(synthetic_passages(n, seed=0, corpus=HERE.parent / "corpus")):
        doc = f"synthetisch/{i // 20:06d}.txt"
        passages.append(Passage(id=f"{doc}#p{i % 20 + 1}", doc_id=doc, text=text, section=None, para=i % 20 + 1,
                                start=0, end=len(text)))
    dicts = [p.to_dict() for p in passages]
    rows = random.Random(0).sample(range(n), min(n, 3000))
    out = Path(tempfile.mkdtemp(prefix="passage-store-"))
    for mode in ("json", "zlib"):
        path = out / f"p-{mode}.sqlite3"
        encode = ((lambda d: json.dumps(d, ensure_ascii=False).encode()) if mode == "json" else
                  (lambda d: zlib.compress(json.dumps(d, ensure_ascii=False).encode(), 6)))
        decode = (lambda b: json.loads(b)) if mode == "json" else (lambda b: json.loads(zlib.decompress(b)))
        t = time.perf_counter()
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("CREATE TABLE passages (row INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        con.executemany("INSERT INTO passages VALUES (?, ?)", ((i, encode(d)) for i, d in enumerate(dicts)))
        con.commit()
        con.close()
        write_s = time.perf_counter() - t
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)

        def one(r, con=con, decode=decode):
            return Passage.from_dict(decode(con.execute("SELECT data FROM passages WHERE row=?", (r,)).fetchone()[0]))

        def every(con=con, decode=decode):
            return (Passage.from_dict(decode(b)) for (b,) in con.execute("SELECT data FROM passages ORDER BY row"))

        report(f"SQLite, {mode} per row", path, n, write_s, one, every, rows)
    for compression in (None, "zstd"):
        path = out / f"p-{compression}.arrow"
        t = time.perf_counter()
        columns = {k: [d[k] for d in dicts] for k in dicts[0] if k != "page_breaks"}
        columns["page_breaks"] = [json.dumps(d["page_breaks"]) for d in dicts]
        table = pa.table(columns)
        with ipc.new_file(str(path), table.schema, options=ipc.IpcWriteOptions(compression=compression)) as writer:
            writer.write_table(table, max_chunksize=1024)
        write_s = time.perf_counter() - t
        mapped = ipc.open_file(pa.memory_map(str(path))).read_all()

        def one(r, mapped=mapped):
            d = mapped.slice(r, 1).to_pylist()[0]
            d["page_breaks"] = json.loads(d["page_breaks"])
            return Passage.from_dict(d)

        def every(mapped=mapped):
            for batch in mapped.to_batches():
                for d in batch.to_pylist():
                    d["page_breaks"] = json.loads(d["page_breaks"])
                    yield Passage.from_dict(d)

        report(f"Arrow IPC, memory-mapped, {compression or 'plain'}", path, n, write_s, one, every, rows)
    for f in out.iterdir():
        f.unlink()
    out.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
