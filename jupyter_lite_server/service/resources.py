"""Process resources set once at start-up: memory returned, file descriptors available.

Large buffers go back to the operating system when they are freed. A server
that relays kernel output allocates many short-lived large buffers (a 1 MB
stream message, a 50 MB display). glibc raises its mmap threshold each time
such a buffer is freed, so later ones come from the heap, whose freed pages
usually stay in the process: RSS then keeps the peak of every burst, seen as
growth that looks unbounded. Fixing the threshold keeps buffers above it in
their own mappings, returned on free, so RSS follows what is live. Costs a
mapping per large buffer (negligible next to copying it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger("jls")

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD_BYTES = 256 * 1024


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def return_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim). For after a
    large structure of many small allocations is dropped (a decoded shared document):
    those never reach the mmap threshold, and their pages would stay in the process."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold; False (nothing changed) where that is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # musl and others: no mallopt
    ok = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; RSS may keep the peak of output bursts")
    return ok


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise the soft limit on open files to the hard one (each kernel costs the server
    a dozen descriptors; the default soft limit, often 1024, is reached at ~80 kernels
    and clients). Returns (old soft, new soft), or None where nothing changed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target <= soft:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return None
    return soft, target


#: Seconds a thread may hold the GIL while another waits for it (Python's default: 5 ms).
SWITCH_INTERVAL = 0.001


def favour_the_event_loop() -> None:
    """Threads doing Python work (a listing of 20,000 files, the notary, an export)
    hand the GIL back to the event loop after 1 ms instead of 5: a request or a
    kernel message that needs the loop a few times over waits that much less."""
    sys.setswitchinterval(SWITCH_INTERVAL)
