"""Training the simulator-people YOLO that ships in analytics/weights (see README)."""
