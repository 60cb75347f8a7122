"""The forked kernels' option, apart from the fork machinery (the app lists it for --help
without importing jupyter_client)."""

from __future__ import annotations

from traitlets import Bool
from traitlets.config import Configurable


class ForkedKernels(Configurable):
    """Whether Python kernels are forked from a process with ipykernel imported."""

    enabled = Bool(
        True,
        help="Start ipykernel kernels that use the server's own Python as forks of a process "
        "that has imported ipykernel once (a kernel is ready several times sooner and shares "
        "the imported modules' memory). Off: every kernel is a new interpreter.",
    ).tag(config=True)
