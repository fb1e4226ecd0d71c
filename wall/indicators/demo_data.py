"""Demo figures, all real: 63 provinces' online-dossier rates (Jan–Aug 2024) and Vĩnh Phúc's
2019 service-centre report (from the mission text). ``iocwall demo`` loads them once.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from iocwall.wall.access import Principal, Role
from iocwall.wall.indicators.provinces import read_csv_rows
from iocwall.wall.indicators.registry import DATA_DIR
from iocwall.wall.indicators.validation import Submission

if TYPE_CHECKING:
    from iocwall.wall.indicators.service import IndicatorService

log = logging.getLogger(__name__)

ONLINE_2024 = DATA_DIR / "provinces_online_dossier_2024.csv"
# Measured 2024-01-01..2024-08-20: stored as the monthly report of August 2024 (year to date).
ONLINE_2024_PERIOD = "2024-08"
ONLINE_2024_NOTE = "Cộng dồn 01/01–20/08/2024 / cumulative 1 Jan–20 Aug 2024 (seed document 001)"
DEMO = Principal("demo-data", Role.ADMIN)

# Vĩnh Phúc, 2019 (year): province-wide one-stop system and its service centre (PASC).
VINH_PHUC_2019 = {
    "dossiers_received": 314_984,
    "dossiers_resolved": 252_856,
    "on_time_share": 93.8,
    "pasc_dossiers_received": 36_451,
    "pasc_dossiers_resolved": 34_664,
    "pasc_on_time_share": 98.17,
    "online_dossier_rate": 10.42,
}


def demo_submissions() -> list[Submission]:
    subs = []
    for row in read_csv_rows(ONLINE_2024):
        for column, indicator in (("service_rate_pct", "online_service_rate"),
                                  ("dossier_rate_pct", "online_dossier_rate")):
            if row[column].strip():          # empty: "needs reconciliation" in the source
                subs.append(Submission(indicator, row["province"], ONLINE_2024_PERIOD,
                                       row[column], "%", note=ONLINE_2024_NOTE))
    for indicator, value in VINH_PHUC_2019.items():
        subs.append(Submission(indicator, "Vĩnh Phúc", "2019", value,
                               note="Báo cáo năm 2019 / 2019 annual report"))
    return subs


async def load_demo(service: IndicatorService) -> int:
    """Store the demo figures unless values exist already; returns how many were stored."""
    if await service.values.count():
        return 0
    subs = demo_submissions()
    for sub in subs:
        await service.submit(sub, DEMO, "demo")
    log.info("demo indicator data loaded: %d values", len(subs))
    return len(subs)
