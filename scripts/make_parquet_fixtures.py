"""Write tests/fixtures/decimal.parquet: a Parquet file with a decimal(10, 2) feature column,
a type lossbench does not read (the test checks for a clear error, not a reader panic).

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/make_parquet_fixtures.py
"""

import decimal
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "decimal.parquet"
values = [decimal.Decimal(v) for v in ("1.50", "2.25", "3.00", "0.75")]
table = pa.table({"a": pa.array(values, type=pa.decimal128(10, 2)), "y": pa.array([0, 1, 0, 1], type=pa.int64())})
pq.write_table(table, out)
print(out)
