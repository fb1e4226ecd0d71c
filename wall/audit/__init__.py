"""Audit log: record every state change, query with paging, export as CSV."""
from iocwall.wall.audit.export import csv_chunks, export_csv
from iocwall.wall.audit.log import AuditAction, AuditEntry, AuditLog, AuditPage, AuditQuery

__all__ = ["AuditAction", "AuditEntry", "AuditLog", "AuditPage", "AuditQuery", "csv_chunks",
           "export_csv"]
