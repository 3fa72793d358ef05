import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.io import use_tool_env  # noqa: E402

use_tool_env()  # as `python -m pipeline` does: offline tiktoken / LiteLLM settings for code called directly
