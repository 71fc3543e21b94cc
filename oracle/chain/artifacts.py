"""Compiled contract artifacts (ABI + bytecode) committed under ``contracts/artifacts/``.

Where they are looked up, first match wins: ``ORACLE_CONTRACTS_DIR`` (an operator's own build),
the source tree's ``contracts/artifacts/`` (a checkout), then the copy an installed wheel ships
as data files under ``<prefix>/share/solchain-oracle/contracts/artifacts/``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from oracle.errors import ConfigError
from oracle.shipped import resolve_data_dir

ARTIFACTS_DIR = resolve_data_dir("ORACLE_CONTRACTS_DIR", "contracts/artifacts", "*.json")
CONTRACT_NAMES = ("EnergyPriceOracle", "AnomalyRegistry", "GridOptimizationRegistry",
                  "EnergySettlement", "TestToken", "EnergyPriceOraclePlainLoop")


@dataclass(frozen=True)
class Artifact:
    """One contract's ABI and creation bytecode, with the SHA-256 of the artifact file."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    sha256: str


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """Read ``<directory>/<name>.json``; ConfigError names the file when it is missing or bad."""
    path = directory / f"{name}.json"
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
        return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"],
                        sha256=hashlib.sha256(raw).hexdigest())
    except FileNotFoundError as err:
        raise ConfigError(f"contract artifact {str(path)!r} is missing; run "
                          "`node contracts/compile.js` in a checkout, or point ORACLE_CONTRACTS_DIR "
                          "at a directory of compiled artifacts", key="contract", value=name) from err
    except (ValueError, KeyError) as err:
        raise ConfigError(f"contract artifact {str(path)!r} is not a valid artifact: {err}",
                          key="contract", value=name) from err
