"""Every default of ``llmbox cost``, in one dependency-free module (help text and core read it)."""

from __future__ import annotations

#: USD per kWh: the U.S. city-average residential price (BLS average price series APU000072610,
#: as published on FRED: 0.19 for June 2025). Give --kwh-price for your own tariff.
KWH_PRICE = 0.19
KWH_PRICE_SOURCE = "U.S. city average, BLS series APU000072610 (June 2025)"
AMORTIZE_YEARS = 3.0
HOURS_PER_DAY = 8.0
#: Share of the catalog's board power drawn while generating, when power was not measured.
#: 1.0 makes the catalog figure an upper bound; measure with `bench --power` or give --watts.
UTILISATION = 1.0
#: Share of input tokens the API serves from its prompt cache.
CACHED_SHARE = 0.0
FORMAT = "table"
