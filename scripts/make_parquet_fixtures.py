"""Write the Parquet files of tests/hostile_input.rs into tests/fixtures/:

- decimal.parquet: a decimal(10, 2) feature column, a type lossbench does not read (the test
  checks for a clear error, not a reader panic);
- text_feature.parquet: a string feature column with a cell that is not a number.

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/make_parquet_fixtures.py
"""

import decimal
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

fixtures = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
labels = pa.array([0, 1, 0, 1], type=pa.int64())
values = [decimal.Decimal(v) for v in ("1.50", "2.25", "3.00", "0.75")]
pq.write_table(pa.table({"a": pa.array(values, type=pa.decimal128(10, 2)), "y": labels}), fixtures / "decimal.parquet")
pq.write_table(pa.table({"a": pa.array(["1.5", "abc", "3", "0.5"]), "y": labels}), fixtures / "text_feature.parquet")
print(fixtures)
