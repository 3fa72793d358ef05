import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The tests' runs and reports live apart from the user's runs/ and reports/ (every `make` and `python -m
# pipeline` they start inherits it). Kept between sessions, like uv's cache: what the tests share across
# runs — one calibration of each judge, runs/_calibration — is made once per machine.
TEST_WORK = ROOT / ".cache" / "test-work"
os.environ.setdefault("EVAL_WORK_DIR", str(TEST_WORK))

from pipeline.io import use_tool_env  # noqa: E402

use_tool_env()  # as `python -m pipeline` does: offline tiktoken / LiteLLM settings for code called directly
