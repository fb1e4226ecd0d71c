"""One health model: every component's state on one board, camera availability per day, and
alert rules with a lifecycle (raised -> acknowledged -> resolved). See service.py."""
