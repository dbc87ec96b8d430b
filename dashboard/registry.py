"""Every page of the desk: where it lives, its title, its sidebar section and who may open it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import Settings

ALL_ROLES = ("viewer", "operator", "approver", "admin")
SECTIONS = ("Overview", "Work queues", "Money", "Health", "Admin")


@dataclass(frozen=True)
class PageSpec:
    """One page in the sidebar."""

    file: str
    title: str
    icon: str
    section: str
    roles: tuple[str, ...] = ALL_ROLES
    default: bool = False
    # Shows figures computed from the synced data: held back until the first load is complete.
    figures: bool = False
    # The name of a `Settings.ai` field listing the roles the page is switched on for
    # (e.g. "assistant_roles" from AI_ASSISTANT_ROLES); None: always on for `roles`.
    switch: str | None = None

    def open_to(self, role: str, settings: Settings) -> bool:
        """Whether the sidebar lists the page for `role` under these settings."""
        if role not in self.roles:
            return False
        return self.switch is None or role in getattr(settings.ai, self.switch)


PAGES: list[PageSpec] = [
    PageSpec(
        "pages/overview.py",
        "Overview",
        ":material/dashboard:",
        "Overview",
        default=True,
        figures=True,
    ),
    PageSpec("pages/home.py", "Connection", ":material/cable:", "Health"),
    PageSpec("pages/approvals.py", "Approvals", ":material/task_alt:", "Work queues"),
    PageSpec(
        "pages/assistant.py",
        "Desk assistant",
        ":material/forum:",
        "Work queues",
        roles=("operator", "approver", "admin"),
        switch="assistant_roles",
    ),
    PageSpec("pages/audit_log.py", "Audit log", ":material/history:", "Health"),
    PageSpec("pages/users.py", "Users & policy", ":material/group:", "Admin", roles=("admin",)),
    PageSpec("pages/disputes.py", "Disputes", ":material/gavel:", "Work queues", figures=True),
    PageSpec(
        "pages/failed_payments.py",
        "Failed payments",
        ":material/credit_card_off:",
        "Work queues",
        figures=True,
    ),
    PageSpec(
        "pages/imports.py",
        "Imports",
        ":material/upload_file:",
        "Admin",
        roles=("operator", "approver", "admin"),
    ),
    PageSpec("pages/sync_health.py", "Sync health", ":material/sync:", "Health"),
    PageSpec(
        "pages/payouts_books.py",
        "Payouts & books",
        ":material/account_balance:",
        "Money",
        figures=True,
    ),
    PageSpec("pages/reports.py", "Reports", ":material/summarize:", "Money", figures=True),
    PageSpec("pages/drift.py", "Drift", ":material/compare_arrows:", "Health", figures=True),
    PageSpec(
        "pages/outbox.py",
        "Outbox",
        ":material/outbox:",
        "Health",
        roles=("operator", "approver", "admin"),
    ),
]
