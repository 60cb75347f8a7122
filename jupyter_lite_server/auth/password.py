"""Password login: hashes in jupyter_server's format, and slowing down guessers.

``jls password`` stores ``argon2:<argon2id hash>``, the format jupyter_server's
``passwd()`` writes, so a hashed password from a jupyter_server config works
as it is (the older ``sha1:salt:hash`` form is still checked, never written).
Wrong passwords are throttled: after a few failures from one client, and
after many from all clients together (a client can pose as many behind a
proxy), further attempts are refused for a time that doubles with each
failure, whether the password is right or not.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import deque
from dataclasses import dataclass, field

#: jupyter_server's argon2 parameters: memory in KiB, iterations, lanes.
ARGON2_MEMORY_COST, ARGON2_TIME_COST, ARGON2_PARALLELISM = 10240, 10, 8


def hash_password(passphrase: str) -> str:
    """The stored form of ``passphrase``: ``argon2:$argon2id$...``."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher(
        memory_cost=ARGON2_MEMORY_COST, time_cost=ARGON2_TIME_COST, parallelism=ARGON2_PARALLELISM
    )
    return "argon2:" + hasher.hash(passphrase)


def check_password(hashed: str, passphrase: str) -> bool:
    """Whether ``passphrase`` matches ``hashed`` (argon2, or jupyter's legacy salted hashes)."""
    if hashed.startswith("argon2:"):
        from argon2 import PasswordHasher
        from argon2.exceptions import Argon2Error, InvalidHashError

        try:
            return bool(PasswordHasher().verify(hashed[len("argon2:") :], passphrase))
        except (Argon2Error, InvalidHashError):
            return False
    algorithm, _, rest = hashed.partition(":")
    salt, _, expected = rest.partition(":")
    if not (algorithm and salt and expected) or algorithm not in hashlib.algorithms_available:
        return False
    digest = hashlib.new(algorithm)
    digest.update(passphrase.encode("utf-8") + salt.encode("ascii"))
    return hmac.compare_digest(digest.hexdigest(), expected)


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    lockouts: int = 0


class LoginThrottle:
    """Refuses login attempts for a while after repeated failures.

    ``per_client`` failures within ``window`` seconds from one client lock that
    client out; ``overall`` failures from everyone lock every client out (a
    guesser rotating addresses). A lockout lasts ``base_delay`` seconds,
    doubling with each further lockout up to ``max_delay``; a success clears
    the client's record.
    """

    def __init__(
        self,
        per_client: int = 5,
        overall: int = 50,
        window: float = 300.0,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clients: dict[str, _Failures] = {}
        self._everyone = _Failures()

    def retry_after(self, client: str, now: float | None = None) -> float:
        """Seconds this client must wait before it may try again (0: it may now)."""
        now = time.monotonic() if now is None else now
        record = self._clients.get(client)
        waits = [self._everyone.locked_until - now]
        if record is not None:
            waits.append(record.locked_until - now)
        return max(0.0, *waits)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._clients) > 10_000:  # a flood of addresses: keep memory bounded
            self._clients.clear()
        record = self._clients.setdefault(client, _Failures())
        self._count(record, self.per_client, now)
        self._count(self._everyone, self.overall, now)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def _count(self, record: _Failures, limit: int, now: float) -> None:
        record.times.append(now)
        while record.times and now - record.times[0] > self.window:
            record.times.popleft()
        if len(record.times) >= limit:
            delay = min(self.base_delay * 2**record.lockouts, self.max_delay)
            record.locked_until = now + delay
            record.lockouts += 1
            record.times.clear()
