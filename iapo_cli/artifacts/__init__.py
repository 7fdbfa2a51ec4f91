"""Files a run writes. Writes are atomic (temp file, then rename)."""

from ._run_dir import (
    RUN_FILES,
    new_run_dir,
    policy_records,
    write_config,
    write_json,
    write_table,
)

__all__ = [
    "RUN_FILES",
    "new_run_dir",
    "policy_records",
    "write_config",
    "write_json",
    "write_table",
]
