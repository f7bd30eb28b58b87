"""Keep freed camera-frame buffers in the process instead of handing them back to the kernel, in few malloc arenas.

glibc serves a 0.9 MB allocation (one 640x480 rgb8 frame) with a fresh mmap or trims it off the heap when it is
freed, so every frame's copies in DDS and rclpy touch new pages and pay their page faults. One 640x480 frame from
one rclpy process to another (benchmarks/image_hop.py, project's 2-core CPU VM) took 3.5-3.6 ms median with
glibc's defaults and 1.9-2.3 ms with these settings. Memory then stays at the peak the process has needed.

That peak is per arena, and glibc gives threads arenas of their own, up to 8 per core: the tracker node's service
threads (a configure builds the model on whichever takes the transition) and the input and worker threads each
activation starts spread their peaks over up to 16 arenas. Over the 50 deactivate/activate and 20 cleanup/configure
cycles of test/ros/test_lifecycle_memory.py (demo weights) the node went from 877 to 1627 MiB. At most two arenas
cut that to 747 to 826 and 735 to 897 MiB (each new model still lands beside the old one's kept memory); handing
that back at cleanup with release_freed_memory as well: 631 to 672 and 719 to 776 MiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's maximum: anything up to a 4K rgb8 frame comes from the heap
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024  # free heap top kept before trimming
# Two, not one: Python threads allocate under the GIL anyway, but DDS's and torch's threads do not, and a second
# arena keeps them from all queueing on one lock; a single arena saved about 50 MiB in the lifecycle test, about its
# run-to-run spread. Each arena more can hold one more peak.
ARENA_MAX = 2
THRESHOLD_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
ARENA_SETTING = "MALLOC_ARENA_MAX"

Mallopt = Callable[[int, int], int]


def keep_freed_frame_buffers() -> str:
    """Set glibc's mmap and trim thresholds and its arena cap for this process; what was done, for the log. Call
    it before the process starts threads (glibc fixes its arena limit once more than 8 arenas exist). Settings the
    user made with glibc's variables are left alone, and all of them where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return "malloc left at its defaults: the C library has no mallopt (not glibc)"
    return f"{_thresholds(libc.mallopt)}; {_arena_cap(libc.mallopt)}"


def release_freed_memory() -> bool:
    """Hand the free pages of every arena back to the kernel (glibc's malloc_trim); whether any went. For after a
    large release such as the model at cleanup, whose memory the thresholds would keep beside the next one's."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _thresholds(mallopt: Mallopt) -> str:
    chosen = [name for name in THRESHOLD_SETTINGS if name in os.environ]
    if chosen:
        return f"malloc thresholds left as set by {', '.join(chosen)}"
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)):
        return "malloc thresholds left at their defaults: mallopt refused them"
    return (f"malloc keeps freed buffers (mmap threshold {MMAP_THRESHOLD_BYTES >> 20} MiB, trim threshold "
            f"{TRIM_THRESHOLD_BYTES >> 20} MiB)")


def _arena_cap(mallopt: Mallopt) -> str:
    if ARENA_SETTING in os.environ:
        return f"arenas left as set by {ARENA_SETTING}={os.environ[ARENA_SETTING]}"
    if not mallopt(M_ARENA_MAX, ARENA_MAX):
        return "arenas left at glibc's default: mallopt refused the cap"
    return f"at most {ARENA_MAX} arenas, shared by all threads"
