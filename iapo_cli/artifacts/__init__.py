"""Files a run writes. Writes are atomic (temp file, then rename)."""

from ._ledger import LEDGER, UsageLedger, ledger_totals, read_ledger
from ._run_dir import (
    RUN_FILES,
    new_run_dir,
    policy_records,
    write_config,
    write_json,
    write_table,
)

__all__ = [
    "LEDGER",
    "UsageLedger",
    "ledger_totals",
    "read_ledger",
    "RUN_FILES",
    "new_run_dir",
    "policy_records",
    "write_config",
    "write_json",
    "write_table",
]
