"""Video walls: monitors, layouts pushed to display nodes, pairing, alarms (issue 12).

    service = WallService(services); await service.start()     # done by Services
    routes = [*walls.api.routes(), *walls.ws.routes()]           # done by serve
"""
