"""CSV machinery: encodings, delimiters, header aliases, value parsers and row-level errors."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest

from core.errors import InputError
from core.imports import IMPORTERS
from core.imports.crm import CRM
from core.imports.csv_reader import (
    ImportResult,
    detect_encoding,
    iter_records,
    map_headers,
    sniff_delimiter,
)
from core.imports.csv_values import parse_date, parse_datetime, parse_money
from core.imports.tickets import TICKETS


def records(data: bytes, importer=CRM, **kw):  # type: ignore[no-untyped-def]
    result = ImportResult(importer=importer.name)
    rows = list(iter_records(data, importer.schema, result, **kw))
    return rows, result


def test_registry_names_the_context_importers() -> None:
    assert {"crm", "tickets"} <= set(IMPORTERS)
    assert IMPORTERS["crm"] is CRM and IMPORTERS["tickets"] is TICKETS


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Name,Émile\n".encode(), "utf-8"),
        (b"\xef\xbb\xbfName,x\n", "utf-8-sig"),
        ("Name,Zoë – “quoted”\n".encode("cp1252"), "cp1252"),
        (b"Name,\x81\x8d\xe9\n", "latin-1"),  # bytes cp1252 leaves undefined
        (b"Name,plain\n", "utf-8"),
    ],
)
def test_detect_encoding(data: bytes, expected: str) -> None:
    assert detect_encoding(io.BytesIO(data)) == expected


def test_detect_encoding_checks_the_whole_file_not_just_the_head() -> None:
    data = b"Name\n" + b"a\n" * 600_000 + "Zoë\n".encode("cp1252")
    assert detect_encoding(io.BytesIO(data)) == "cp1252"


def test_utf16_is_refused_with_what_to_do() -> None:
    with pytest.raises(InputError, match="CSV UTF-8"):
        detect_encoding(io.BytesIO("a,b\n".encode("utf-16")))


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_sniff_delimiter(delim: str) -> None:
    sample = delim.join(["Email", "Account Name", "MRR"]) + "\n" + delim.join(["a@x.io", "A", "10"])
    assert sniff_delimiter(sample) == delim


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("$1,234.50", 123450),
        ("1.234,50 €", 123450),
        ("1200", 120000),
        ("99,5", 9950),
        ("-3.2", -320),
    ],
)
def test_parse_money(raw: str, cents: int) -> None:
    assert parse_money(raw) == cents


def test_parse_dates() -> None:
    assert parse_date("2026-03-01") == date(2026, 3, 1)
    assert parse_date("03/01/2026") == date(2026, 3, 1)  # US exports
    assert parse_date("01.03.2026") == date(2026, 3, 1)
    assert parse_datetime("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_datetime("1772359200").tzinfo is UTC
    with pytest.raises(ValueError):
        parse_date("next tuesday")


@pytest.mark.parametrize(
    "headers",
    [
        # HubSpot companies
        [
            "Record ID",
            "Company name",
            "Company owner",
            "Stripe Customer ID",
            "Annual Recurring Revenue",
        ],
        # Salesforce accounts
        [
            "Account ID",
            "Account Name",
            "Account Owner",
            "Stripe_Customer_ID__c",
            "Type",
        ],
        # a spreadsheet
        ["email", "name", "owner", "segment", "mrr", "renewal date", "flags"],
    ],
)
def test_header_aliases_of_common_exports(headers: list[str]) -> None:
    mapping, _ignored = map_headers(headers, CRM.schema)
    assert "name" in mapping and "owner" in mapping
    assert "stripe_customer_id" in mapping or "email" in mapping


def test_missing_key_column_is_a_file_level_error_naming_it() -> None:
    with pytest.raises(InputError, match="stripe_customer_id or email"):
        records(b"Account Name,Owner\nAcme,Ana\n")


def test_bad_rows_are_reported_with_line_numbers_while_good_rows_load() -> None:
    data = (
        b"Stripe Customer ID,Email,Account Name,MRR,Renewal Date,Currency\n"
        b"cus_A1,a@acme.io,Acme,$1200,2026-12-01,USD\n"
        b"not-a-customer,b@x.io,Bad id,10,2026-12-01,USD\n"
        b',,"No key at all",10,,\n'
        b"cus_C3,c@x.io,Bad date,10,someday,USD\n"
        b'"cus_D4","d@x.io","Multi\nline name",5,,eur\n'
        b"cus_E5,e@x.io,Bad currency,5,,dollars\n"
        b"\n"
        b"cus_F6,f@x.io,Last,7,,usd\n"
    )
    rows, result = records(data)
    assert [r["natural_key"] for _, r in rows] == ["cus_A1", "cus_D4", "cus_F6"]
    assert [(e.line, e.message.split(":")[0]) for e in result.errors] == [
        (3, "stripe_customer_id"),
        (4, "needs stripe_customer_id or email"),
        (5, "renewal_date"),
        (8, "currency 'dollars' is not a 3-letter code such as USD"),
    ]
    assert result.rows_read == 7 and result.error_count == 4
    assert rows[0][1]["mrr"] == 120000 and rows[0][1]["currency"] == "usd"
    assert rows[2][0] == 10  # line numbers count the blank line and the multi-line record


def test_flags_from_a_list_and_from_checkbox_columns_merge() -> None:
    data = b"email;flags;Do not downgrade;Enterprise handling\nx@y.io;VIP, Pending cancellation;yes;no\n"
    rows, result = records(data)
    assert result.delimiter == ";"
    assert rows[0][1]["flags"] == ["vip", "pending_cancellation", "do_not_downgrade"]


def test_cp1252_export_with_accents_reads_correctly() -> None:
    data = "Email,Account Name\nzoe@x.io,Zoë Müller SARL\n".encode("cp1252")
    rows, result = records(data)
    assert result.encoding == "cp1252"
    assert rows[0][1]["name"] == "Zoë Müller SARL"


def test_size_limit_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="Split it"):
        records(b"email\n" + b"a@b.io\n" * 1000, max_bytes=100)


def test_tickets_from_a_zendesk_style_export() -> None:
    data = (
        b"Id,Requester email,Subject,Status,Created at,Tags\n"
        b"101,ana@acme.io,Please refund my last invoice,Open,2026-11-01 10:00:00,billing refund\n"
        b"102,,Missing requester,open,2026-11-01,\n"
    )
    rows, result = records(data, TICKETS)
    assert rows[0][1]["ticket_id"] == "101" and rows[0][1]["status"] == "open"
    assert result.errors[0].line == 3


def test_ticket_priority_is_kept_as_a_tag_the_rules_can_read() -> None:
    data = (
        b"Id,Requester email,Subject,Status,Priority,Created at,Tags\n"
        b"201,ana@acme.io,Login help,Open,High,2026-11-01 10:00:00,complaint\n"
        b"202,bo@acme.io,Question,Pending,,2026-11-01 10:00:00,\n"
    )
    rows, result = records(data, TICKETS)
    assert not result.errors
    assert rows[0][1]["tags"] == ["complaint", "priority_high"]
    assert rows[1][1]["tags"] == []
