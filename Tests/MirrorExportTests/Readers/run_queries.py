"""Runs the example queries of docs/export.md (the ```sql example blocks) with Python's sqlite3 on a
SQLite export and with DuckDB on a Parquet export of the same mirror, and compares the answers.

Prints JSON {"queries": n, "answers": [[rows...], ...]} (the SQLite answers); exits 1 when an answer
differs between the two.
"""
import json
import re
import sqlite3
import sys

import duckdb

docs, sqlite_directory, parquet_directory = sys.argv[1:4]
queries = re.findall(r"```sql example\n(.*?)```", open(docs, encoding="utf-8").read(), re.S)

lite = sqlite3.connect(f"file:{sqlite_directory}/npm-mirror.sqlite?mode=ro", uri=True)
duck = duckdb.connect()
duck.execute("SET TimeZone = 'UTC'")
for table in ["packages", "versions", "dependencies", "maintainers", "changes"]:
    duck.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{parquet_directory}/{table}.parquet')")


def normalise(rows):
    return [[round(float(value), 6) if isinstance(value, float) else value for value in row] for row in rows]


answers = []
for query in queries:
    from_sqlite = normalise(lite.execute(query).fetchall())
    from_duckdb = normalise(duck.execute(query).fetchall())
    if from_sqlite != from_duckdb:
        print(f"the answers differ for:\n{query}\nsqlite3: {from_sqlite[:5]}\nDuckDB:  {from_duckdb[:5]}", file=sys.stderr)
        sys.exit(1)
    answers.append(from_sqlite)

json.dump({"queries": len(queries), "answers": answers}, sys.stdout, default=str)
