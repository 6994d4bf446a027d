"""``python -m cloud_stub``: the same as ``thermosmart-cloud``."""

from __future__ import annotations

import sys

from cloud_stub.cli import main

sys.exit(main())
