"""Issue, revoke and list API keys.

    python -m api.keys create --name acme [--quota 600/minute]
    python -m api.keys revoke --name acme
    python -m api.keys list

The database is the server's: --database URL, else $EXPOSURE_DATABASE_URL, else the SQLite file
in the instance folder. `create` prints the token alone on stdout, once; only its sha256 is
stored.
"""

import argparse
import sys

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from api import ENV_PREFIX, database
from api.keys import KeyStore, KeyStoreError


def database_url(explicit: str | None) -> str:
    """Return the database URL the server would use, unless one is given."""
    if explicit:
        return explicit
    # A bare app named like the server's resolves EXPOSURE_* and the instance folder the same way.
    app = Flask("api")
    app.config.from_prefixed_env(prefix=ENV_PREFIX)
    return str(app.config.get("DATABASE_URL") or database.default_url(app.instance_path))


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m api.keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", metavar="URL", help="database URL (default: the server's)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print its token once")
    create.add_argument("--name", required=True, help="who the key is for, e.g. acme")
    create.add_argument(
        "--quota", help="rate such as 600/minute (default: the server's DEFAULT_QUOTA)"
    )
    revoke = commands.add_parser("revoke", help="revoke a key; its token is refused from then on")
    revoke.add_argument("--name", required=True)
    commands.add_parser("list", help="list the keys, revoked ones included")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one key command and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        store = KeyStore(database.connect(database_url(args.database)))
        if args.command == "create":
            key, token = store.create(args.name, args.quota)
            quota = key.quota or "the server's DEFAULT_QUOTA"
            # The token alone on stdout, so that TOKEN=$(python -m api.keys create ...) works.
            print(
                f"created key {key.name!r} with quota {quota}; its token, shown only once:",
                file=sys.stderr,
                flush=True,
            )
            print(token)
        elif args.command == "revoke":
            key = store.revoke(args.name)
            print(f"revoked key {key.name!r} ({key.prefix}...)")
        else:
            print(f"{'name':<24}{'prefix':<14}{'quota':<18}{'created (UTC)':<22}status")
            for key in store.list_all():
                created = key.created_at.strftime("%Y-%m-%d %H:%M:%S")
                status = "revoked" if key.revoked else "active"
                print(f"{key.name:<24}{key.prefix:<14}{key.quota or '-':<18}{created:<22}{status}")
    except (KeyStoreError, ValueError, SQLAlchemyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
