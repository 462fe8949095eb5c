"""Small exact statistics for the evaluation: McNemar's exact test on paired right/wrong
outcomes and the Wilson score interval for a proportion. Pure functions, standard library only.
"""

from __future__ import annotations

import math

__all__ = ["mcnemar_exact", "wilson_interval", "Z_95"]

#: The 97.5 % point of the standard normal distribution (a two-sided 95 % interval).
Z_95 = 1.959963984540054


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided p-value of McNemar's exact test.

    In: the discordant pair counts: ``b`` questions right in A and wrong in B,
    ``c`` wrong in A and right in B (the concordant pairs do not matter).
    Out: the exact binomial p-value for ``min(b, c)`` successes out of
    ``b + c`` with probability 1/2, doubled and capped at 1; 1.0 without
    discordant pairs.
    """
    if b < 0 or c < 0:
        raise ValueError("counts must not be negative")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion ``successes / n`` (None when n is 0). Used
    where the bootstrap cannot vary: every question has the same outcome."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
