"""Developer tool: ``python -m oracle.store.revision "message"`` autogenerates a migration
from the difference between ``tables.py`` and a scratch database at head."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from oracle.store.engine import make_engine
from oracle.store.migrate import _config, upgrade


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        upgrade(engine)
        config = _config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "schema change")
