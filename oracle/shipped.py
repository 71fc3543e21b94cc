"""Where the data files the package ships (contract artifacts, migrations) are on this machine.

A checkout has them beside the source tree (``contracts/artifacts/``, ``migrations/``); an
installed wheel carries copies as data files under ``<prefix>/share/solchain-oracle/`` (see
``[tool.setuptools.data-files]`` in pyproject.toml); an environment variable overrides both.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

# The wheel's data-files target, relative to the installation prefix.
SHARE_SUBDIR = Path("share") / "solchain-oracle"
# The repository root when running from a checkout (or an editable install).
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def installed_data_dirs(subdir: str) -> list[Path]:
    """Where an installed wheel's data files for ``subdir`` can be: the install scheme's data
    path, the interpreter prefix, then the user base (``pip install --user``)."""
    roots = [Path(sysconfig.get_path("data")), Path(sys.prefix)]
    if os.name == "posix":
        roots.append(Path(sysconfig.get_path("data", "posix_user")))
    found: list[Path] = []
    for root in roots:
        candidate = root / SHARE_SUBDIR / subdir
        if candidate not in found:
            found.append(candidate)
    return found


def resolve_data_dir(env_var: str, subdir: str, marker: str) -> Path:
    """The directory holding one kind of shipped data.

    ``env_var`` wins when set (taken as given, so a wrong value fails naming that path); then
    the checkout's ``<repo>/<subdir>`` if it holds a file matching ``marker``; then the first
    installed copy that does; else the checkout path, so the caller's error names where the
    files were expected.
    """
    override = os.environ.get(env_var)
    if override:
        return Path(override)
    source = SOURCE_ROOT / subdir
    if any(source.glob(marker)):
        return source
    for candidate in installed_data_dirs(subdir):
        if any(candidate.glob(marker)):
            return candidate
    return source
