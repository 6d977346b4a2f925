"""Ids codetracer makes for itself, drawn from a generator of its own, never from one the host can patch or seed.

A traced program must behave exactly as untraced. Test suites patch ``uuid.uuid4`` with a deterministic sequence
(snapshot fixtures), call ``random.seed(0)``, or replace ``secrets``/``os.urandom`` for reproducible output: a
tracer that drew one value from any of them on the agent's thread (a journal's file name, a run id) would shift
every value the framework draws after it, so message ids, tool-call ids and checkpoints would differ from the
untraced run, and the tests that compare them would fail because of the tracer.

So codetracer's ids come from a private :class:`random.Random`, seeded once from ``os.urandom`` when this module
is imported (before any test runs) and again in a forked child (a child must not repeat its parent's ids). Only
``random.Random``'s own methods are called afterwards, through references taken here: no module attribute a host
could replace is looked up per id. These ids need to be unique, not secret.
"""

from __future__ import annotations

import os
import random
import uuid

_rng = random.Random(os.urandom(32))
_bits = _rng.getrandbits
_UUID = uuid.UUID


def _reseed() -> None:
    _rng.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)


def random_bits(n: int) -> int:
    """An ``n``-bit random integer from codetracer's own generator (what ``random.getrandbits`` would give)."""
    return _bits(n)


def hex_id(length: int = 32) -> str:
    """``length`` random hex digits (``uuid.uuid4().hex`` is 32), from codetracer's own generator."""
    return f"{_bits(length * 4):0{length}x}"


def uuid4() -> uuid.UUID:
    """A random (version 4) UUID from codetracer's own generator: what ``uuid.uuid4()`` gives, drawn from nothing
    the host shares."""
    return _UUID(int=_bits(128), version=4)
