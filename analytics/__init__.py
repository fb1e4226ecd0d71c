"""Analytics worker: frames in over ZeroMQ, people detection, queue counts out.

Filled in by the analytics issue. Weights are always given by path (never downloaded).
"""
