"""An epoch is the recipe's iterations x batch_size pairs whatever the number of torchrun processes (issue #19, 14):
each step's batch is split over the ranks, so the ranks together draw every pair of the epoch exactly once."""

from __future__ import annotations

import pytest

from jcat_core.train.trainer import EpochBatches

ITERATIONS, BATCH = 5, 32


def drawn(epoch: int, world: int) -> list[list[list[int]]]:
    """Per rank, the index batches it draws in ``epoch`` when the job has ``world`` processes."""
    per_rank = []
    for rank in range(world):
        batches = EpochBatches(ITERATIONS, BATCH, rank, world)
        batches.epoch = epoch
        per_rank.append(list(batches))
    return per_rank


@pytest.mark.parametrize("world", [1, 2, 3])
def test_ranks_together_draw_each_pair_of_the_epoch_once(world: int) -> None:
    for epoch in (0, 1):
        per_rank = drawn(epoch, world)
        assert all(len(batches) == ITERATIONS for batches in per_rank)  # DDP: every rank takes every step
        indices = [i for batches in per_rank for batch in batches for i in batch]
        assert len(indices) == ITERATIONS * BATCH  # the recipe's count, not world x it
        assert sorted(indices) == list(range(epoch * ITERATIONS * BATCH, (epoch + 1) * ITERATIONS * BATCH))


@pytest.mark.parametrize("world", [2, 3])
def test_each_step_is_the_single_process_batch_split_over_ranks(world: int) -> None:
    single = drawn(1, 1)[0]
    per_rank = drawn(1, world)
    for step, batch in enumerate(single):
        shares = [batches[step] for batches in per_rank]
        assert [i for share in shares for i in share] == batch
        assert max(map(len, shares)) - min(map(len, shares)) <= 1  # 32 over 3: 11, 11, 10


def test_uneven_shares_are_weighted_to_the_batch_mean() -> None:
    """DDP averages gradients over ranks; with each rank's loss times its weight that average is the mean over
    the whole batch even when the shares differ in size."""
    values = [float(v) ** 2 for v in range(BATCH)]  # one loss per sample
    world = 3
    ranks = [EpochBatches(ITERATIONS, BATCH, rank, world) for rank in range(world)]
    ddp_mean = sum(r.loss_weight * sum(values[i] for i in r.share) / len(r.share) for r in ranks) / world
    assert ddp_mean == pytest.approx(sum(values) / BATCH)
    assert EpochBatches(ITERATIONS, BATCH).loss_weight == 1.0


def test_a_batch_smaller_than_the_world_is_refused() -> None:
    with pytest.raises(ValueError, match=r"batch_size 2 .* 3 processes"):
        EpochBatches(ITERATIONS, 2, 0, 3)
