"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.db import current_revision, migrate
from core.models import Base


def test_migrations_match_models(engine: Any) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"migrations and models disagree: {diff}"


def test_migrate_is_repeatable_and_at_head(engine: Any) -> None:
    migrate(engine)  # a second run is a no-op
    assert current_revision(engine) == "0011_books_accounts"
    tables = set(inspect(engine).get_table_names())
    assert {"events", "stripe_objects", "sync_state"} <= tables


def test_sqlite_pragmas(sqlite_url: str) -> None:
    from core.db import make_engine

    eng = make_engine(sqlite_url)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_json_expression_indexes_serve_the_lookups(engine: Any) -> None:
    # SQLite cannot reflect expression indexes, so compare_metadata skips them there: check
    # instead that the migrated index is the one the evidence lookups' query plan uses.
    from sqlalchemy import select

    from core.models.performance import data_charge, data_customer
    from core.models.sync import StripeObject

    lookups = {
        "ix_stripe_objects_type_customer": data_customer(StripeObject.data) == "cus_1",
        "ix_stripe_objects_type_charge": data_charge(StripeObject.data) == "ch_1",
    }
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
        for index, cond in lookups.items():
            q = select(StripeObject.data).where(StripeObject.object_type == "charge", cond)
            sql = str(q.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            plan = (
                " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
                if engine.dialect.name == "sqlite"
                else " ".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
            )
            assert index in plan, f"{index} not used: {plan}"
