"""The dated price table of the hosted services (`ragkit/prices.toml`) and the arithmetic of costs from it.

A price is per unit: 1,000 input tokens (embedding, chat; chat output tokens priced apart) or 1,000 searches
(rerank). A service or model the table does not know has no price (None), never a guessed one; a local service
costs 0 and is measured in CPU seconds instead (see `workbench/scorecard.py`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError, FileParseError
from ragkit.user_files import read_text_file

PRICE_TABLE = Path(__file__).with_name("prices.toml")
KINDS = ("embedding", "rerank", "chat")
UNITS = {"1k_tokens": 1000, "1k_searches": 1000}


@dataclass(frozen=True)
class Price:
    """One row of the price table: what `per_unit` (and, for chat, `output_per_unit`) dollars buy, and where it is from."""

    kind: str
    service: str
    model: str
    per_unit: float
    unit: str
    source: str
    as_of: str
    output_per_unit: float = 0.0

    def for_tokens(self, tokens: int, output_tokens: int = 0) -> float:
        """Dollars for this many input (and output) tokens."""
        if self.unit != "1k_tokens":
            raise ConfigError(f"{self.service} {self.model} is priced per {self.unit}, not per token.")
        return (tokens * self.per_unit + output_tokens * self.output_per_unit) / UNITS[self.unit]

    def for_searches(self, searches: int) -> float:
        """Dollars for this many searches (rerank calls)."""
        if self.unit != "1k_searches":
            raise ConfigError(f"{self.service} {self.model} is priced per {self.unit}, not per search.")
        return searches * self.per_unit / UNITS[self.unit]


@dataclass(frozen=True)
class PriceTable:
    """The prices of one table file, with the date they were read."""

    as_of: str
    currency: str
    prices: dict[tuple[str, str, str], Price]
    path: str = ""

    def price(self, kind: str, service: str, model: str) -> Price | None:
        """The price of a model of a service for one kind of call, or None when the table does not list it."""
        return self.prices.get((kind, service, model))


def load_price_table(path: str | Path = PRICE_TABLE) -> PriceTable:
    """Read a price table file; ConfigError naming the file and the entry when it is malformed."""
    path = Path(path)
    try:
        data: dict[str, Any] = tomllib.loads(read_text_file(path, 2**20, "a price table is at most 1 MB"))
    except (OSError, tomllib.TOMLDecodeError, FileParseError, UnicodeDecodeError, RecursionError) as error:
        raise ConfigError(f"The price table {path} cannot be read: {error}.") from None
    as_of = str(data.get("as_of", ""))
    if not as_of:
        raise ConfigError(f"The price table {path} has no as_of date: write when its prices were read, e.g. as_of = \"2025-06-01\".")
    prices: dict[tuple[str, str, str], Price] = {}
    for kind in KINDS:
        for service, models in (data.get(kind) or {}).items():
            for model, entry in models.items():
                unit = entry.get("unit", "")
                if unit not in UNITS or not isinstance(entry.get("per_unit"), (int, float)):
                    raise ConfigError(f"The price table {path}: {kind}.{service}.{model} needs a number per_unit and a unit "
                                      f"of {', '.join(UNITS)} (got unit {unit!r}).")
                prices[(kind, service, model)] = Price(kind, service, model, float(entry["per_unit"]), unit,
                                                       str(entry.get("source", "")), as_of,
                                                       float(entry.get("output_per_unit", 0.0)))
    return PriceTable(as_of=as_of, currency=str(data.get("currency", "USD")), prices=prices, path=str(path))
