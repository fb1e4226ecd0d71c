"""Analytics worker: frames in over ZeroMQ, people detection, queue counts out.

Weights are always given by path (never downloaded).
"""
