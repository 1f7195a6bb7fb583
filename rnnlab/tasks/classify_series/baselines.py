"""The series classifier's baselines beyond the majority class: 1-nearest-neighbour, Euclidean and DTW.

Every sequence is resampled to one length L by linear interpolation (`resample`) and takes the label
of the closest training sequence, by one of the two distances the UCR/UEA archive names its
baselines after, neither with anything to tune:

    1-NN-ED    `nearest_neighbour_ed`: Euclidean distance over the L·C numbers
    1-NN-DTW   `nearest_neighbour_dtw`: dynamic time warping (`dtw_distance`), unconstrained by default

`nearest_neighbour` is the Euclidean one's name from before 1-NN-DTW existed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# the local costs of one block of pairs held at once, float64: 2**24 cells are 128 MiB
_BLOCK_CELLS = 2 ** 24


def resample(values: np.ndarray, length: int) -> np.ndarray:
    """A sequence stretched or squeezed to `length` steps by linear interpolation, channel by channel.

    Step j of the result is the sequence read at position j·(T−1)/(length−1) of its own time axis
    (interpolating between the two neighbouring steps), so the first and last steps are kept. A
    sequence of one step is repeated.

    Args:
        values: (T, C) with T ≥ 1.
        length: the number of steps wanted (≥ 1).

    Returns:
        (length, C) float64.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError(f"values must have shape (T ≥ 1, C); received {values.shape}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer; received {length!r}")
    length = int(length)  # numpy integers (e.g. a max over lengths) are welcome
    if len(values) == 1:
        return np.repeat(values, length, axis=0)
    positions = np.linspace(0.0, len(values) - 1, length)                  # (length,)
    steps = np.arange(len(values))
    return np.stack([np.interp(positions, steps, values[:, c]) for c in range(values.shape[1])], axis=1)


def dtw_distance(a: np.ndarray, b: np.ndarray, window: float | None = None) -> float:
    """Dynamic time warping distance between two sequences, written from its definition.

        c[i, j] = Σ_ch (a[i, ch] − b[j, ch])²                        local cost, summed over channels
        D[i, j] = c[i, j] + min(D[i−1, j−1], D[i−1, j], D[i, j−1])    D[0, 0] = c[0, 0]
        DTW(a, b) = √D[n−1, m−1]

    D is ∞ off the n × m grid and outside the band. This is the UCR convention (squared local cost,
    one square root at the end) and, for C > 1, the "dependent" DTW_D: one warping path shared by all
    channels. dtaidistance (`dtw_ndim.distance`) and tslearn (`dtw`) compute the same; aeon's
    `dtw_distance` returns D[n−1, m−1], without the root.

    The Sakoe–Chiba band keeps only the cells with

        −r − max(n − m, 0) ≤ j − i ≤ r + max(m − n, 0),    r = ⌊window · max(n, m)⌋

    that is, within r steps of the diagonal, widened by the length difference so that the far corner
    stays reachable (the UCR suite's r = ⌊window·L⌋; the band of tslearn's `sakoe_chiba_radius=r`
    and of dtaidistance's `window=r + 1`). window=0 on equal lengths leaves the diagonal alone, the
    Euclidean distance; window=1 or None leaves the whole grid.

    Args:
        a: (n, C) or (n,) with n ≥ 1; b: (m, C) or (m,), the same C.
        window: the band's half-width as a fraction of the longer length, in [0, 1]; None: no band.

    Returns:
        DTW(a, b) ≥ 0, symmetric in a and b.
    """
    a, b = _checked(a, "a"), _checked(b, "b")
    if b.shape[1] != a.shape[1]:
        raise ValueError(f"b must have the {a.shape[1]} channels of a; received {b.shape[1]}")
    return float(dtw_distances(a[None], b[None], window)[0, 0])


def dtw_distances(xs: np.ndarray, ys: np.ndarray, window: float | None = None) -> np.ndarray:
    """(M, N) DTW distances (`dtw_distance`, same band) between every sequence of xs and every one of ys.

    Equivalent to calling `dtw_distance(xs[p], ys[q], window)` for every p and q, but each step of
    the recurrence runs for all pairs of a block at once (see `_cumulative_costs`).

    Args:
        xs: (M, n, C) or (M, n), M sequences of one length n ≥ 1; ys: (N, m, C) or (N, m).
        window: as in `dtw_distance`.

    Returns:
        (M, N) float64.
    """
    xs, ys = _checked_stack(xs, "xs"), _checked_stack(ys, "ys")
    (num_x, n, channels), (num_y, m, _) = xs.shape, ys.shape
    if ys.shape[2] != channels:
        raise ValueError(f"ys must have the {channels} channels of xs; received {ys.shape[2]}")
    radius = _radius(window, n, m)
    if num_x == 0 or num_y == 0:
        return np.empty((num_x, num_y))
    # [x, ‖x‖², 1]·[−2y, 1, ‖y‖²] = ‖x − y‖²: one matrix product gives a block's every local cost
    xs = np.concatenate([xs, (xs ** 2).sum(axis=2, keepdims=True), np.ones((num_x, n, 1))], axis=2)     # (M, n, C+2)
    ys = np.concatenate([-2 * ys, np.ones((num_y, m, 1)), (ys ** 2).sum(axis=2, keepdims=True)], axis=2)  # (N, m, C+2)
    x_blocks, y_blocks = _blocks(num_x, num_y, n * m)
    # one buffer for every block's costs: fresh memory per block costs as much in page faults as the product
    buffer = np.empty(n * m * (x_blocks[0].stop - x_blocks[0].start) * (y_blocks[0].stop - y_blocks[0].start))
    cumulative = np.empty((num_x, num_y))
    for x_rows in x_blocks:
        for y_rows in y_blocks:
            block_x = xs[x_rows].transpose(1, 0, 2)                                # (n, M', C+2)
            block_y = ys[y_rows].transpose(1, 0, 2)                                # (m, N', C+2)
            rows, columns = n * block_x.shape[1], m * block_y.shape[1]
            cost = np.matmul(block_x.reshape(rows, -1), block_y.reshape(columns, -1).T,
                             out=buffer[:rows * columns].reshape(rows, columns))
            cost = cost.reshape(n, block_x.shape[1], m, block_y.shape[1])          # (n, M', m, N'): c[i, x, j, y]
            cumulative[x_rows, y_rows] = _cumulative_costs(cost, radius)
    # the product's rounding (~1e-16 of ‖x‖² + ‖y‖² a cell) can leave an exact match just below 0
    return np.sqrt(np.maximum(cumulative, 0.0))


def _blocks(num_x: int, num_y: int, cells: int) -> tuple[list[slice], list[slice]]:
    """Rows of xs and of ys for blocks of at most _BLOCK_CELLS local costs (one pair at least), near-equal in size."""
    pairs = max(1, _BLOCK_CELLS // cells)
    y_count = -(-num_y // pairs)                                               # ⌈N / pairs⌉ blocks of ys
    y_size = -(-num_y // y_count)
    x_size = max(1, pairs // y_size)
    return ([slice(start, start + x_size) for start in range(0, num_x, x_size)],
            [slice(start, start + y_size) for start in range(0, num_y, y_size)])


def _cumulative_costs(cost: np.ndarray, radius: int) -> np.ndarray:
    """(M, N) D[n−1, m−1] of each pair from the local costs `cost` (n, M, m, N), in the band of `radius`.

    The recurrence runs over anti-diagonals k = i + j: a cell of diagonal k needs only cells of
    diagonals k − 1 and k − 2, so each diagonal is one vector step for all its cells and all pairs,
    n + m − 1 steps in all instead of n·m·M·N scalar ones.
    """
    n, num_x, m, num_y = cost.shape
    below, above = radius + max(n - m, 0), radius + max(m - n, 0)            # band: −below ≤ j − i ≤ above
    flipped = cost[:, :, ::-1]  # flipped[i, :, m−1−j] = c[i, j]: anti-diagonal k of c, diagonal m−1−k of flipped
    # D_k[i] = D[i, k − i] sits at row i + 1 of an (n + 2, M, N) buffer, so that rows 0 and n + 1 (i = −1
    # and i = n, off the grid) are ∞; three buffers take turns holding diagonals k − 2, k − 1 and k
    two_back, one_back, current = (np.full((n + 2, num_x, num_y), np.inf) for _ in range(3))
    one_back[1] = cost[0, :, 0]                                               # D[0, 0] = c[0, 0]
    scratch = np.empty((n, num_x, num_y))
    for k in range(1, n + m - 1):
        first = max(0, k - m + 1)                                             # on the grid: i ≥ first
        lo = max(first, -((above - k) // 2))                                  # in the band: i ≥ ⌈(k − above) / 2⌉
        hi = min(n - 1, k, (k + below) // 2)                                  #   and i ≤ ⌊(k + below) / 2⌋
        diagonal = flipped.diagonal(m - 1 - k, 0, 2).transpose(2, 0, 1)     # (cells, M, N)
        c = diagonal[lo - first:hi - first + 1]                               # c[i, k − i] for i = lo..hi
        # rows lo..hi of a buffer hold i − 1, rows lo + 1..hi + 1 hold i
        best = np.minimum(one_back[lo:hi + 1], one_back[lo + 1:hi + 2], out=scratch[:hi - lo + 1])  # D[i−1,j], D[i,j−1]
        np.minimum(best, two_back[lo:hi + 1], out=best)                                          # D[i−1, j−1]
        np.add(best, c, out=current[lo + 1:hi + 2])
        # the buffer last held diagonal k − 3: clear the rows beside lo..hi, which diagonals k + 1 and k + 2 read
        current[lo] = current[hi + 2] = np.inf
        two_back, one_back, current = one_back, current, two_back
    return one_back[n]                                                        # D[n−1, m−1]: i = n − 1, row n


def nearest_neighbour_ed(train_series: Sequence[np.ndarray], train_labels: Sequence,
                         query_series: Sequence[np.ndarray], length: int) -> np.ndarray:
    """1-NN-ED: 1-nearest-neighbour labels with Euclidean distance on sequences resampled to `length` steps.

        d(a, b) = ‖resample(a, L) − resample(b, L)‖₂   over all L·C numbers
        ŷ(q) = label of argmin_i d(q, train_i)          (ties: the first training sequence)

    Args:
        train_series: N arrays (T_i, C); train_labels: their N labels.
        query_series: M arrays (T_j, C) with the same C.
        length: L, the common length (e.g. the longest training sequence).

    Returns:
        (M,) array of predicted labels.
    """
    train, query = _resampled(train_series, train_labels, query_series, length)
    features = train.shape[1] * train.shape[2]                                       # L·C
    train, query = train.reshape(-1, features), query.reshape(-1, features)          # (N, L·C), (M, L·C)
    # ‖q − t‖² = ‖q‖² − 2 q·t + ‖t‖²; the argmin does not need the square root
    distances = (query ** 2).sum(1)[:, None] - 2 * query @ train.T + (train ** 2).sum(1)[None, :]  # (M, N)
    return np.asarray(train_labels)[distances.argmin(axis=1)]


nearest_neighbour = nearest_neighbour_ed  # the name from before 1-NN-DTW; kept, as it is exported


def nearest_neighbour_dtw(train_series: Sequence[np.ndarray], train_labels: Sequence,
                          query_series: Sequence[np.ndarray], length: int, window: float | None = None) -> np.ndarray:
    """1-NN-DTW: 1-nearest-neighbour labels with DTW distance on sequences resampled to `length` steps.

        d(a, b) = DTW(resample(a, L), resample(b, L))   (`dtw_distance`, band `window`)
        ŷ(q) = label of argmin_i d(q, train_i)          (ties: the first training sequence)

    It costs M·N·L² cells of the recurrence when unconstrained (about 2·window as many with a band):
    a few nanoseconds each on one core.

    Args:
        train_series: N arrays (T_i, C); train_labels: their N labels.
        query_series: M arrays (T_j, C) with the same C.
        length: L, the common length (e.g. the longest training sequence).
        window: the Sakoe–Chiba band as a fraction of L, in [0, 1]; None (the default): no band.

    Returns:
        (M,) array of predicted labels.
    """
    train, query = _resampled(train_series, train_labels, query_series, length)
    return np.asarray(train_labels)[dtw_distances(query, train, window).argmin(axis=1)]


def _resampled(train_series: Sequence[np.ndarray], train_labels: Sequence, query_series: Sequence[np.ndarray],
               length: int) -> tuple[np.ndarray, np.ndarray]:
    """The training (N, L, C) and query (M, L, C) sequences resampled to L = `length`, checked."""
    if len(train_series) == 0 or len(train_series) != len(train_labels):
        raise ValueError(f"train_series and train_labels must be non-empty and of the same length; received "
                         f"{len(train_series)} and {len(train_labels)}")
    train = [_checked(values, f"train_series[{k}]") for k, values in enumerate(train_series)]
    query = [_checked(values, f"query_series[{k}]") for k, values in enumerate(query_series)]
    channels = train[0].shape[1]
    for k, values in enumerate(train):
        if values.shape[1] != channels:
            raise ValueError(f"train_series[{k}] has {values.shape[1]} channels; train_series[0] has {channels}")
    for values in query:
        if values.shape[1] != channels:
            raise ValueError(f"query_series must have the training sequences' {channels} channels; received "
                             f"{values.shape[1]}")
    train = np.stack([resample(values, length) for values in train])                # (N, L, C)
    query = np.stack([resample(values, length) for values in query]) if query else np.empty((0, length, channels))
    return train, query


def _checked(values: np.ndarray, name: str) -> np.ndarray:
    """`values` as (T ≥ 1, C) float64 ((T,) is one channel); a ValueError naming `name` otherwise."""
    values = np.asarray(values, dtype=np.float64)
    shape = values.shape
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or len(values) == 0 or values.shape[1] == 0:
        raise ValueError(f"{name} must have shape (T ≥ 1, C ≥ 1) or (T ≥ 1,); received {shape}")
    _check_finite(values, name)
    return values


def _checked_stack(values: np.ndarray, name: str) -> np.ndarray:
    """`values` as (N, T ≥ 1, C) float64 ((N, T) is one channel); a ValueError naming `name` otherwise."""
    values = np.asarray(values, dtype=np.float64)
    shape = values.shape
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3 or values.shape[1] == 0 or values.shape[2] == 0:
        raise ValueError(f"{name} must have shape (N, T ≥ 1, C ≥ 1) or (N, T ≥ 1); received {shape}")
    _check_finite(values, name)
    return values


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        where = ", ".join(map(str, bad[0]))
        raise ValueError(f"{name} must hold finite numbers; received {values[tuple(bad[0])]} at [{where}]")


def _radius(window: float | None, n: int, m: int) -> int:
    """The band's r = ⌊window · max(n, m)⌋ (no band: max(n, m), which leaves every cell)."""
    if window is None:
        return max(n, m)
    if isinstance(window, bool) or not isinstance(window, (int, float, np.integer, np.floating)) or \
            not 0.0 <= window <= 1.0:  # NaN fails the comparison too
        raise ValueError(f"window must be a fraction of the length in [0, 1], or None; received {window!r}")
    # the 1e-9 keeps products that float arithmetic puts just below an integer (0.29 · 100 = 28.999…) on it
    return int(np.floor(window * max(n, m) + 1e-9))
