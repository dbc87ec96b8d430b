"""CSV imports into the database: upsert by natural key, bad rows, encodings, huge files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.db import make_engine, make_sessionmaker, migrate
from core.imports import IMPORTERS
from core.models.context import CrmAccount, HelpdeskTicket

CRM_CSV = (
    "Stripe Customer ID,Email,Account Name,Account Owner,Segment,MRR,Renewal Date,Flags\n"
    "cus_A1,a@acme.io,Acme,Ana,Enterprise,$1200,2026-12-01,do not downgrade\n"
    ",solo@x.io,Solo,Ben,SMB,20,,\n"
    "bogus,b@x.io,Broken,Ana,SMB,xx,,\n"
)


def test_crm_import_then_reimport_updates_instead_of_duplicating(Session: Any) -> None:
    with Session.begin() as s:
        first = IMPORTERS["crm"].run(s, CRM_CSV.encode())
    assert (first.inserted, first.updated, first.error_count) == (2, 0, 1)
    assert first.errors[0].line == 4
    changed = CRM_CSV.replace("Ana,Enterprise,$1200", "Cleo,Enterprise,$1500")
    with Session.begin() as s:
        again = IMPORTERS["crm"].run(s, changed.encode("cp1252"))
    assert (again.inserted, again.updated) == (0, 2)
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(CrmAccount)) == 2
        acme = s.scalars(select(CrmAccount).where(CrmAccount.stripe_customer_id == "cus_A1")).one()
        assert (acme.owner, acme.mrr, acme.segment, acme.flags) == (
            "Cleo",
            150000,
            "enterprise",
            ["do_not_downgrade"],
        )
        solo = s.scalars(select(CrmAccount).where(CrmAccount.email == "solo@x.io")).one()
        assert solo.natural_key == "email:solo@x.io"


def test_ticket_import_same_id_twice_in_one_file_keeps_the_last(Session: Any) -> None:
    data = (
        "Ticket ID\tCustomer email\tSubject\tStatus\tCreated\n"
        "T-1\tana@acme.io\tCard declined again\tnew\t2026-11-01T09:00:00Z\n"
        "T-1\tana@acme.io\tCard declined again\tsolved\t2026-11-01T09:00:00Z\n"
    ).encode("utf-8-sig")
    with Session.begin() as s:
        result = IMPORTERS["tickets"].run(s, data)
    assert result.encoding == "utf-8-sig" and result.delimiter == "\t"
    with Session() as s:
        tickets = s.scalars(select(HelpdeskTicket)).all()
        assert [(t.ticket_id, t.status) for t in tickets] == [("T-1", "solved")]


def test_huge_crm_file_streams_in_batches(sqlite_url: str, tmp_path: Path) -> None:
    # Streaming and batching do not depend on the dialect; the upsert itself is covered above.
    engine = make_engine(sqlite_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    path = tmp_path / "huge.csv"
    rows = 100_000
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Stripe Customer ID,Email,Account Name,MRR\n")
        for i in range(rows):
            # every 1000th row is broken; the rest must load
            mrr = "n/a" if i % 1000 == 999 else str(i % 500)
            fh.write(f"cus_{i:08d},u{i}@example.com,Company {i},{mrr}\n")
    with Session.begin() as s:
        result = IMPORTERS["crm"].run(s, path, batch_rows=5_000)
    assert result.rows_read == rows
    assert result.error_count == rows // 1000
    assert result.inserted == rows - rows // 1000
    assert result.errors[0].line == 1001
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(CrmAccount)) == result.inserted
