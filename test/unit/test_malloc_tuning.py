"""keep_freed_frame_buffers: frame-sized allocations come from the heap and stay there when freed (no fresh pages
per frame), in at most ARENA_MAX arenas however many threads allocate; glibc settings the user made are left alone;
release_freed_memory hands kept pages back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jcat_ros.malloc_tuning import ARENA_MAX

REPO = Path(__file__).resolve().parents[2]
MALLINFO = """
import ctypes
from jcat_ros.malloc_tuning import keep_freed_frame_buffers, release_freed_memory
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
"""
FREED_BLOCK = MALLINFO + """
import json, sys
message = keep_freed_frame_buffers() if sys.argv[1] == "tune" else "untouched"
size = 20 * 1024 * 1024  # a 4K rgb8 frame is 24 MB, 640x480 is 0.9 MB
before = libc.mallinfo2().hblkhd
block = libc.malloc(size)
mmapped = libc.mallinfo2().hblkhd - before
libc.free(block)
print(json.dumps({"message": message, "mmapped": mmapped, "kept_free": libc.mallinfo2().fordblks}))
"""
THREADS = """
import ctypes, json, sys, threading
from jcat_ros.malloc_tuning import keep_freed_frame_buffers
message = keep_freed_frame_buffers() if sys.argv[1] == "tune" else "untouched"
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
all_started = threading.Barrier(8)

def allocate():  # all eight threads hold a block at once, as the node's threads hold frames
    block = libc.malloc(1 << 20)
    all_started.wait()
    libc.free(block)

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"message": message}), flush=True)
libc.malloc_stats()  # one "Arena <n>:" block per arena, on stderr
"""
RELEASE = MALLINFO + """
import json
keep_freed_frame_buffers()

def resident_mib():
    line = next(line for line in open("/proc/self/status") if line.startswith("VmRSS:"))
    return int(line.split()[1]) // 1024

blocks = [libc.malloc(1 << 20) for _ in range(200)]
for block in blocks:
    ctypes.memset(block, 1, 1 << 20)  # resident, as a frame is once written
last = libc.malloc(4096)  # in use above the freed blocks: the heap top cannot simply be cut off
for block in blocks:
    libc.free(block)
kept = resident_mib()
released = release_freed_memory()
print(json.dumps({"kept": kept, "released": released, "after": resident_mib()}))
"""


def run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env={**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
                                             **env})
    if "mallinfo2" in result.stderr:
        pytest.skip("the C library has no mallinfo2 (glibc < 2.33 or not glibc)")
    assert result.returncode == 0, result.stderr
    return result


def freed_block(mode: str, **env: str) -> dict:
    return json.loads(run(FREED_BLOCK, mode, **env).stdout)


def arenas(mode: str, **env: str) -> tuple[str, int]:
    """keep_freed_frame_buffers' message and how many arenas eight concurrent threads left."""
    result = run(THREADS, mode, **env)
    return json.loads(result.stdout)["message"], result.stderr.count("Arena ")


def test_frame_sized_blocks_come_from_the_heap_and_stay_after_free() -> None:
    default, tuned = freed_block("default"), freed_block("tune")
    assert default["mmapped"] >= 20 * 1024 * 1024, "glibc's default serves it with a fresh mmap (the baseline)"
    assert "keeps freed buffers" in tuned["message"]
    assert tuned["mmapped"] == 0
    assert tuned["kept_free"] >= 20 * 1024 * 1024, "the freed block stays in the process for the next frame"


def test_threads_share_at_most_arena_max_arenas() -> None:
    _, default_count = arenas("default")
    assert default_count > ARENA_MAX + 2, "glibc's default gives the threads arenas of their own (the baseline)"
    message, count = arenas("tune")
    assert f"at most {ARENA_MAX} arenas" in message
    assert count <= ARENA_MAX


def test_the_users_glibc_settings_are_left_alone() -> None:
    result = freed_block("tune", MALLOC_MMAP_THRESHOLD_="131072")
    assert result["message"].startswith("malloc thresholds left as set by MALLOC_MMAP_THRESHOLD_; at most")
    assert result["mmapped"] >= 20 * 1024 * 1024
    message, count = arenas("tune", MALLOC_ARENA_MAX="5")
    assert message.endswith("; arenas left as set by MALLOC_ARENA_MAX=5")
    assert ARENA_MAX < count <= 5


def test_release_freed_memory_hands_kept_pages_back() -> None:
    result = json.loads(run(RELEASE).stdout)
    assert result["released"]
    assert result["after"] <= result["kept"] - 150, result
