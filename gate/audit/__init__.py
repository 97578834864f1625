"""The audit log: write-ahead decisions, results, a tamper-evident chain, export, verify."""

from gate.audit.chain import ChainReport, chain_key, verify_chain
from gate.audit.export import EXPORT_COLUMNS
from gate.audit.secret import hash_document_number
from gate.audit.store import AuditLog, AuditRecord, EntryKind

__all__ = [
    "EXPORT_COLUMNS",
    "AuditLog",
    "AuditRecord",
    "ChainReport",
    "EntryKind",
    "chain_key",
    "hash_document_number",
    "verify_chain",
]
