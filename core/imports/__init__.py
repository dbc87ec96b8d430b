"""Every CSV importer by name; `python -m jobs import NAME FILE` and the upload page use this.

Add an importer with one line: `"name": Importer(...)` (see core/imports/csv_import.py).
"""

from __future__ import annotations

from core.imports.bank import BANK
from core.imports.crm import CRM
from core.imports.csv_import import Importer
from core.imports.entitlements import ENTITLEMENTS
from core.imports.shipping import SHIPPING
from core.imports.tickets import TICKETS
from core.imports.usage import USAGE

IMPORTERS: dict[str, Importer] = {
    "crm": CRM,
    "bank": BANK,
    "entitlements": ENTITLEMENTS,
    "tickets": TICKETS,
    "usage": USAGE,
    "shipping": SHIPPING,
}
