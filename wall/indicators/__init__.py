"""Indicators (KPIs): the registry, provinces, the value store, deadlines, roll-up, the API.

    service = IndicatorService(store, audit)      # Services owns one
    await service.start(bus)                      # live consumers (queue events, stream health)
    routes(services)                              # /api/indicators...
"""
