"""Indicators (KPIs): the registry, provinces, the value store, deadlines, roll-up, the API.

    service = IndicatorService(store, audit, registry, media=media)   # Services owns one
    await service.start(bus)          # live queue readings from analytics over the bus
    api.routes()                      # /api/indicators... (wall/routes.py lists them)
"""
