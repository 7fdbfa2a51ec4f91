"""Files a run or a study writes, behind ``RunDir`` and ``StudyDir`` (the only place their
names are spelled). Writes are atomic (temp file, then rename)."""

from ._ledger import LEDGER, UsageLedger, ledger_totals, read_ledger, unreceived_totals
from ._pulls import PullRecorder, RecordedPull, read_pulls
from ._records import (
    agnostic_choice,
    estimates_table,
    policy_table,
    ranking_column,
    spend_text,
    trimmed_rounds,
)
from ._run_dir import (
    RUN_FILES,
    RunDir,
    StudyDir,
    check_creatable,
    check_writable,
    policy_records,
    write_json,
    write_table,
)

__all__ = [
    "LEDGER",
    "UsageLedger",
    "ledger_totals",
    "read_ledger",
    "unreceived_totals",
    "PullRecorder",
    "RecordedPull",
    "read_pulls",
    "RUN_FILES",
    "RunDir",
    "agnostic_choice",
    "estimates_table",
    "policy_table",
    "ranking_column",
    "spend_text",
    "trimmed_rounds",
    "StudyDir",
    "check_creatable",
    "check_writable",
    "policy_records",
    "write_json",
    "write_table",
]
