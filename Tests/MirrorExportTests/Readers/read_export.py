"""An independent reader of an npm-mirror export, for the tests: Python's own sqlite3, csv and gzip.

Prints JSON: {"format", "tables": {name: [[value, ...], ...]}} with every value as the file holds it,
normalised only so that formats compare: null -> None, booleans -> true/false, integers -> int,
text and timestamps -> str. CSV cannot tell null from an empty text apart once Python's csv module
has read it, so both come out as None there (and the SQLite side's empty texts likewise).
"""
import csv
import gzip
import json
import sqlite3
import sys

directory = sys.argv[1]
manifest = json.load(open(f"{directory}/manifest.json", encoding="utf-8"))
result = {"format": manifest["format"], "tables": {}}


def normalise(value, kind):
    if value is None or value == "":
        return None
    if kind == "boolean":
        if isinstance(value, int):
            return bool(value)
        if value in ("true", "false"):
            return value == "true"
        raise ValueError(f"not a boolean: {value!r}")
    if kind == "integer":
        return int(value)
    return str(value)


for table in manifest["tables"]:
    name = table["name"]
    kinds = [column["type"] for column in table["columns"]]
    names = [column["name"] for column in table["columns"]]
    rows = []
    if manifest["format"] == "sqlite":
        connection = sqlite3.connect(f"file:{directory}/npm-mirror.sqlite?mode=ro", uri=True)
        cursor = connection.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
        if [description[0] for description in cursor.description] != names:
            raise SystemExit(f"{name}: columns {cursor.description} are not the manifest's {names}")
        for row in cursor:
            rows.append([normalise(value, kind) for value, kind in zip(row, kinds)])
    elif manifest["format"] == "csv":
        path = f"{directory}/{name}.csv" + (".gz" if manifest["gzip"] else "")
        opener = gzip.open if manifest["gzip"] else open
        with opener(path, "rt", encoding="utf-8", newline="") as file:
            reader = csv.reader(file, strict=True)
            header = next(reader)
            if header != names:
                raise SystemExit(f"{name}: header {header} is not the manifest's {names}")
            for row in reader:
                if len(row) != len(kinds):
                    raise SystemExit(f"{name}: a row of {len(row)} fields: {row}")
                rows.append([normalise(value, kind) for value, kind in zip(row, kinds)])
    if len(rows) != table["rows"]:
        raise SystemExit(f"{name}: {len(rows)} rows read, the manifest says {table['rows']}")
    result["tables"][name] = rows

json.dump(result, sys.stdout, ensure_ascii=False)
