"""The audit log: write-ahead decisions, results, a tamper-evident chain, signed chain
heads (checkpoints), export, verify."""

from gate.audit.chain import ChainReport, ChainStatus, chain_key, verify_chain
from gate.audit.columns import EXPORT_COLUMNS
from gate.audit.head import ChainHead, ForgedCheckpointError, head_key, read_head
from gate.audit.secret import hash_document_number
from gate.audit.store import AuditLog, AuditRecord, Checkpointing, EntryKind

__all__ = [
    "EXPORT_COLUMNS",
    "AuditLog",
    "AuditRecord",
    "ChainHead",
    "ChainReport",
    "ChainStatus",
    "Checkpointing",
    "EntryKind",
    "ForgedCheckpointError",
    "chain_key",
    "hash_document_number",
    "head_key",
    "read_head",
    "verify_chain",
]
