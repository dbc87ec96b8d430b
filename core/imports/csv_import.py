"""Running a CSV import into the store: batches, upserts by natural key and named importers.

Reading a file — encodings, delimiters, header aliases, parsers and rejected rows — lives in
core/imports/csv_reader.py. `run_import` takes the rows it reads and stores them in batches:

    iter_records ──► row ──schema.key──► batch ──apply──► DB

Re-importing the same file updates rows by their natural key instead of duplicating them. An
`Importer` names a schema and how its batches are stored, for the CLI and the upload page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.governance import audit
from core.governance.auth import require_role
from core.imports.csv_reader import DEFAULT_MAX_BYTES, CsvSchema, ImportResult, Source, iter_records
from core.models.base import utcnow

DEFAULT_BATCH_ROWS = 2_000

__all__ = [
    "Importer",
    "run_import",
    "upsert_by_key",
]


Apply = Callable[[Any, list[dict[str, Any]]], tuple[int, int]]


def run_import(
    session: Any,
    source: Source,
    schema: CsvSchema,
    apply: Apply,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """Stream `source` through `schema`; `apply(session, rows)` stores a batch → (new, updated)."""
    result = ImportResult(importer=schema.name)
    batch: dict[Any, dict[str, Any]] = {}
    for _line, row in iter_records(source, schema, result, max_bytes=max_bytes):
        # Within a batch the last row for a key wins, as it would across batches.
        batch[schema.key(row)] = row
        if len(batch) >= batch_rows:
            _flush(session, apply, batch, result)
    _flush(session, apply, batch, result)
    return result


def _flush(
    session: Any, apply: Apply, batch: dict[Any, dict[str, Any]], result: ImportResult
) -> None:
    if not batch:
        return
    inserted, updated = apply(session, list(batch.values()))
    result.inserted += inserted
    result.updated += updated
    batch.clear()


def stamped_upsert(
    table: Any, key: str, update: Sequence[str] | None = None
) -> Callable[[Any, list[dict[str, Any]]], tuple[int, int]]:
    """An importer's `apply`: stamp `imported_at`, then upsert on `key` (all other columns)."""

    def apply(session: Any, rows: list[dict[str, Any]]) -> tuple[int, int]:
        now = utcnow()
        stamped = [{**r, "imported_at": now} for r in rows]
        columns = list(update) if update else [c for c in stamped[0] if c != key]
        return upsert_by_key(session, table, stamped, key, columns)

    return apply


def upsert_by_key(
    session: Any,
    table: Any,
    rows: list[dict[str, Any]],
    key: str,
    update: Sequence[str],
) -> tuple[int, int]:
    """Insert or update rows on the unique column `key`; return (inserted, updated)."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    keys = [r[key] for r in rows]
    existing: set[Any] = set()
    column = table.c[key]
    for i in range(0, len(keys), 500):  # keep IN lists under every driver's parameter limit
        chunk = keys[i : i + 500]
        existing.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in update}
    )
    if dialect is postgresql:
        # RETURNING makes SQLAlchemy batch the executemany into multi-row statements
        # ("insertmanyvalues"): a few round trips instead of one per row.
        session.execute(stmt.returning(column), rows).all()
    else:
        session.execute(stmt, rows)  # sqlite3's executemany is in-process and fastest
    updated = sum(1 for k in keys if k in existing)
    return len(rows) - updated, updated


@dataclass(frozen=True)
class Importer:
    """A named CSV importer: what the file holds, its schema and how a batch is stored."""

    name: str
    title: str
    description: str
    schema: CsvSchema
    apply: Apply

    def run(self, session: Any, source: Source, **options: Any) -> ImportResult:
        """Import `source` in the caller's transaction."""
        return run_import(session, source, self.schema, self.apply, **options)

    def run_for(self, session: Any, actor: Any, source: Source, **options: Any) -> ImportResult:
        """Import on behalf of a signed-in person: operators and above only (audited)."""
        require_role(actor, "operator", "approver", "admin")
        result = self.run(session, source, **options)
        audit.record(session, actor, f"import.{self.name}", f"import:{self.name}", None,
                     {k: v for k, v in result.as_dict().items() if k != "errors"})  # fmt: skip
        return result

    def example_headers(self) -> list[str]:
        """Headers a file can use, first alias each (for the upload page's help)."""
        return [f.aliases[0] if f.aliases else f.name for f in self.schema.fields]
