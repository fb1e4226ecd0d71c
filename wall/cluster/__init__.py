"""Several controllers on one store: the leader lease and its fence (lease.py), who is
running (members.py), the leader-only duties (duties.py), the loop that keeps them
(service.py) and GET /api/cluster (api.py)."""
