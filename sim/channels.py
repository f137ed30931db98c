"""Information channels as one table: credibility, noise and bias of an item by its channel.

Both the items a group gathers before vendors engage (``state.new_customers``) and the weekly
sources of each deal (``source_table``) read :func:`channel_properties`, so the rule of a
channel (e.g. digital content: credibility ``0.4 + 0.5 quality``, noise ``1.5 - quality``,
bias ``0.5 persuasion``) is written once.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import Behaviour
from sim.strategies import STRATEGY_FIELDS

CHANNEL_NAMES = ("internal", "third_party", "rep", "digital")
CHANNEL_INTERNAL, CHANNEL_THIRD_PARTY, CHANNEL_REP, CHANNEL_DIGITAL = range(len(CHANNEL_NAMES))

# Columns of the per-deal source table used to look up an item's properties by its source.
SOURCE_COLUMNS = ("option", "channel", "alignment", "group", "tailoring", "credibility", "noise", "bias")
SRC_OPTION, SRC_CHANNEL, SRC_ALIGNMENT, SRC_GROUP, SRC_TAILORING, SRC_CREDIBILITY, SRC_NOISE, SRC_BIAS = (
    range(len(SOURCE_COLUMNS))
)


def channel_properties(
    behaviour: Behaviour, quality: np.ndarray | float, persuasion: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Credibility, claim noise (sd) and claim bias of an item from each channel.

    Each result has the shape of ``quality`` (a vendor's digital quality) broadcast with
    ``persuasion``, plus a last axis over the channels (CHANNEL_*). Peers and third parties
    are unbiased; reps speak with the vendor's persuasion as bias, digital content with half.
    """
    b = behaviour
    quality, persuasion = np.broadcast_arrays(
        np.asarray(quality, dtype=float), np.asarray(persuasion, dtype=float)
    )
    shape = quality.shape
    credibility = np.stack(
        [
            np.full(shape, b.credibility_internal),
            np.full(shape, b.credibility_third_party),
            np.full(shape, b.credibility_rep),
            0.4 + 0.5 * quality,
        ],
        axis=-1,
    )
    noise = np.stack(
        [
            np.full(shape, b.item_noise * b.noise_internal),
            np.full(shape, b.item_noise * b.noise_third_party),
            np.full(shape, b.item_noise * b.noise_rep),
            b.item_noise * (1.5 - quality),
        ],
        axis=-1,
    )
    bias = np.stack([np.zeros(shape), np.zeros(shape), persuasion, 0.5 * persuasion], axis=-1)
    return credibility, noise, bias


def source_table(vendor: np.ndarray, behaviour: Behaviour) -> np.ndarray:
    """Properties of each information source per deal (D, 2 + 2K, 8), columns SRC_*.

    Sources: 0 peers/internal, 1 third party, 2..K+1 each vendor's reps, K+2..2K+1 each
    vendor's digital content (``vendor`` is (D, O, F) with O = K + 1 options).
    """
    D, O, _ = vendor.shape
    K = O - 1
    field = {name: index for index, name in enumerate(STRATEGY_FIELDS)}
    strategy = vendor[:, 1:]
    credibility, noise, bias = channel_properties(
        behaviour, strategy[..., field["digital_quality"]], strategy[..., field["persuasion"]]
    )  # (D, K, channels)
    table = np.zeros((D, 2 + 2 * K, len(SOURCE_COLUMNS)), dtype=vendor.dtype)
    unbiased_credibility, unbiased_noise, _ = channel_properties(behaviour, 0.0, 0.0)  # no vendor
    for row, channel in ((0, CHANNEL_INTERNAL), (1, CHANNEL_THIRD_PARTY)):
        table[:, row, SRC_CHANNEL] = channel
        table[:, row, SRC_CREDIBILITY] = unbiased_credibility[channel]
        table[:, row, SRC_NOISE] = unbiased_noise[channel]
    options = np.arange(1, O, dtype=vendor.dtype)
    for first, channel in ((2, CHANNEL_REP), (2 + K, CHANNEL_DIGITAL)):
        rows = table[:, first : first + K]
        rows[..., SRC_OPTION] = options
        rows[..., SRC_CHANNEL] = channel
        rows[..., SRC_ALIGNMENT] = strategy[..., field["stage_alignment"]]
        rows[..., SRC_GROUP] = strategy[..., field["group_level"]]
        rows[..., SRC_TAILORING] = strategy[..., field["tailoring"]]
        rows[..., SRC_CREDIBILITY] = credibility[..., channel]
        rows[..., SRC_NOISE] = noise[..., channel]
        rows[..., SRC_BIAS] = bias[..., channel]
    return table
