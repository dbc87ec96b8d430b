"""`python -m jobs <command>`: dispatch to the command modules named in jobs.commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sqlite3
import sys
from types import ModuleType

from sqlalchemy.exc import DBAPIError

from core.config import load_settings
from core.db import record_storage_error, storage_error
from core.errors import CoreError, StorageError
from jobs.commands import COMMANDS, SERVERS, SUMMARY
from jobs.output import Output, emit


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen command's module is imported."""
    parser = argparse.ArgumentParser(prog="python -m jobs", description="Ledgerdesk jobs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name in sorted(COMMANDS):
        if name == chosen:
            module = _load(name)
            p = sub.add_parser(name, help=SUMMARY[name], description=module.HELP)
            module.add_arguments(p)
            if name not in SERVERS:
                _add_json(p)
        else:
            sub.add_parser(name, help=SUMMARY[name], add_help=False)
    return parser


def _add_json(parser: argparse.ArgumentParser) -> None:
    """`--json` on a command and on each of its sub-commands (`journal list --json`)."""
    if "--json" not in parser._option_string_actions:
        # SUPPRESS: an unset flag leaves the top-level `python -m jobs --json` value alone.
        parser.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_json(child)


def main(argv: list[str] | None = None) -> int:
    """Parse, run one command, and turn user-facing errors into one clear line."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS and getattr(_load(argv[0]), "PASSTHROUGH", False):
        # Commands with a parser of their own (the sandbox) take the rest of the line as is.
        return int(_load(argv[0]).main(argv[1:]) or 0)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # The stripe client logs every request at INFO; keep job logs to one line per run.
        logging.getLogger("stripe").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = _load(args.command).run(args)
        code = emit(result, args.json) if isinstance(result, Output) else int(result or 0)
        sys.stdout.flush()  # a closed pipe shows here, not as noise at interpreter exit
        return code
    except (DBAPIError, sqlite3.Error) as exc:
        storage = _storage(exc)
        if storage is None:
            raise  # not the storage: a bug, with its traceback
        print(f"error: {storage}", file=sys.stderr)
        return 2
    except CoreError as exc:
        if isinstance(exc, StorageError):
            _storage(exc)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`python -m jobs journal list | head -1`): stop quietly, and keep
        # Python from complaining about the unflushed rest when it exits.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130


def _storage(exc: BaseException) -> StorageError | None:
    """Classify a database failure (core/db.py) and count it for `status` and the health page."""
    try:
        settings = load_settings()
    except CoreError:
        return storage_error(exc)
    storage = storage_error(exc, settings.database_url)
    if storage is not None:
        record_storage_error(settings.data_dir, storage)
    return storage


if __name__ == "__main__":
    sys.exit(main())
