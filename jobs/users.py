"""`python -m jobs users add|list|set-role|disable|enable|reset-password`: manage desk accounts."""

from __future__ import annotations

import argparse

from core.governance import auth
from core.governance.auth import SYSTEM_ACTOR, Role
from jobs.output import Output
from jobs.runtime import open_runtime

HELP = "manage users: add, list, set-role, disable, enable, reset-password"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands for each user operation."""
    sub = parser.add_subparsers(dest="op", metavar="op", required=True)
    add = sub.add_parser("add", help="create a user and print a one-time password")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--email", help="the email single sign-on maps to this user")
    sub.add_parser("list", help="list users")
    sr = sub.add_parser("set-role", help="change a user's role")
    sr.add_argument("username")
    sr.add_argument("role", choices=[r.value for r in Role])
    for name, text in (
        ("disable", "stop a user from signing in"),
        ("enable", "allow a user again"),
        ("reset-password", "issue a new one-time password"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("username")


def run(args: argparse.Namespace) -> Output:
    """Run one user operation as the system (shell access to the host is the authority)."""
    rt = open_runtime()
    actor = SYSTEM_ACTOR
    with rt.Session.begin() as session:
        if args.op == "add":
            user, password = auth.create_user(
                session, actor, args.username, args.role, email=args.email
            )
            return Output(
                {"username": user.username, "role": user.role, "one_time_password": password},
                f"created {user.username} ({user.role}); one-time password: {password}\n"
                "They must choose a new password at first sign-in.",
            )
        if args.op == "list":
            users = auth.list_users(session)
            rows = [
                {
                    "username": u.username,
                    "role": u.role,
                    "email": u.email,
                    "active": u.active,
                    "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
                }
                for u in users
            ]
            lines = [
                f"{r['username']:<24} {r['role']:<9} "
                f"{'active' if r['active'] else 'disabled':<8} {r['email'] or ''}"
                for r in rows
            ]
            return Output(rows, "\n".join([*lines, f"{len(rows)} user(s)"]))
        if args.op == "set-role":
            user = auth.set_role(session, actor, args.username, args.role)
        elif args.op in ("disable", "enable"):
            user = auth.set_active(session, actor, args.username, args.op == "enable")
        else:  # reset-password
            password = auth.reset_password(session, actor, args.username)
            return Output(
                {"username": args.username, "one_time_password": password},
                f"new one-time password for {args.username}: {password}",
            )
        state = "active" if user.active else "disabled"
        data = {"username": user.username, "role": user.role, "active": user.active}
        if args.op == "set-role":
            return Output(data, f"{user.username} is now {user.role}")
        return Output(data, f"{user.username} is now {state}")
