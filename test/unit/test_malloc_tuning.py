"""keep_freed_frame_buffers: frame-sized allocations come from the heap and stay there when freed (no fresh pages
per frame), and glibc settings the user made are left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import ctypes, json, sys
from jcat_ros.malloc_tuning import keep_freed_frame_buffers
message = keep_freed_frame_buffers() if sys.argv[1] == "tune" else "untouched"
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 20 * 1024 * 1024  # a 4K rgb8 frame is 24 MB, 640x480 is 0.9 MB
before = libc.mallinfo2().hblkhd
block = libc.malloc(size)
mmapped = libc.mallinfo2().hblkhd - before
libc.free(block)
print(json.dumps({"message": message, "mmapped": mmapped, "kept_free": libc.mallinfo2().fordblks}))
"""


def probe(mode: str, **env: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env={**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
                                             **env})
    if "mallinfo2" in result.stderr:
        pytest.skip("the C library has no mallinfo2 (glibc < 2.33 or not glibc)")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_frame_sized_blocks_come_from_the_heap_and_stay_after_free() -> None:
    default, tuned = probe("default"), probe("tune")
    assert default["mmapped"] >= 20 * 1024 * 1024, "glibc's default serves it with a fresh mmap (the baseline)"
    assert "keeps freed buffers" in tuned["message"]
    assert tuned["mmapped"] == 0
    assert tuned["kept_free"] >= 20 * 1024 * 1024, "the freed block stays in the process for the next frame"


def test_the_users_glibc_settings_are_left_alone() -> None:
    result = probe("tune", MALLOC_MMAP_THRESHOLD_="131072")
    assert result["message"] == "malloc left as set by MALLOC_MMAP_THRESHOLD_"
    assert result["mmapped"] >= 20 * 1024 * 1024
