"""``python -m iapo_cli.sim [PATH]``: write the question bank as JSONL."""

import json
import sys
from pathlib import Path

from ._problems import generate_problems

path = Path(sys.argv[1] if len(sys.argv) > 1 else "configs/data/arithmetic.jsonl")
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text("".join(json.dumps(p.row()) + "\n" for p in generate_problems()),
                encoding="utf-8")
print(f"wrote {path}")
