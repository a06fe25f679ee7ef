"""An independent reader of an npm-mirror export, for the tests: Python's own sqlite3, csv and gzip;
for Parquet, pyarrow (with its warnings made errors) and DuckDB, which must agree row for row.

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
import warnings

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
    elif manifest["format"] == "parquet":
        warnings.simplefilter("error")
        import datetime
        import duckdb
        import pyarrow.parquet as pq

        path = f"{directory}/{name}.parquet"
        arrow = pq.read_table(path)
        if arrow.column_names != names:
            raise SystemExit(f"{name}: columns {arrow.column_names} are not the manifest's {names}")
        expected_types = {"text": "string", "integer": "int64", "boolean": "bool", "timestamp": "timestamp[us, tz=UTC]"}
        for field, kind in zip(arrow.schema, kinds):
            if str(field.type) != expected_types[kind]:
                raise SystemExit(f"{name}.{field.name}: pyarrow reads {field.type}, not {expected_types[kind]}")

        def text_of(value):
            if isinstance(value, datetime.datetime):
                micros = value.microsecond
                base = value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
                return base + (f".{micros // 1000:03d}Z" if micros % 1000 == 0 else f".{micros:06d}Z")
            return value

        for row in arrow.to_pylist():
            rows.append([normalise(text_of(row[column]), kind) for column, kind in zip(names, kinds)])
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        duck = [[normalise(text_of(value), kind) for value, kind in zip(row, kinds)] for row in con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()]
        if duck != rows:
            raise SystemExit(f"{name}: DuckDB and pyarrow read different rows")
    if len(rows) != table["rows"]:
        raise SystemExit(f"{name}: {len(rows)} rows read, the manifest says {table['rows']}")
    result["tables"][name] = rows

json.dump(result, sys.stdout, ensure_ascii=False)
