"""How a worker's lease book sizes its blocks, hands idle displays back and serves waiters."""

from __future__ import annotations

import asyncio

from router.scan.live import LeaseBook


def test_a_group_leased_for_waiting_scans_grows_only_while_one_worker_has_it_to_itself() -> None:
    book = LeaseBook(block=10, first=1)
    assert book.block_for(1) == 1
    book.grant(1, 1, cap=500, now=100.0, asked=1, leased=1)
    book.grant(1, 1, cap=500, now=100.1, asked=1, leased=2)  # busy, nobody else: doubles
    book.grant(1, 2, cap=500, now=100.2, asked=2, leased=4)
    assert book.block_for(1) == 4
    book.grant(1, 4, cap=500, now=100.3, asked=4, leased=11)  # 3 leased by another worker
    assert book.block_for(1) == 1  # contended: as scans need
    book.grant(1, 1, cap=500, now=100.4, asked=1, leased=12)
    assert book.block_for(1) == 2


def test_no_block_is_larger_than_an_eighth_of_what_the_cap_has_left() -> None:
    book = LeaseBook(block=10)
    book.grant(1, 10, cap=100, now=100.0, asked=10, leased=10)
    book.grant(1, 10, cap=100, now=100.1, asked=10, leased=20)
    assert book.block_for(1) == 10  # would double to 20; 80 left / 8
    book.grant(1, 10, cap=100, now=100.2, asked=10, leased=90)
    assert book.block_for(1) == 1


def test_a_group_granted_less_than_asked_is_full_until_rechecked() -> None:
    book = LeaseBook(block=10)

    class G:
        pk = 1
        display_cap = 25

    book.grant(1, 2, cap=25, now=100.0, asked=5, leased=25)
    assert not book.exhausted(G(), now=100.0)  # two left to show
    book.spend(1, now=100.0)
    book.spend(1, now=100.0)
    assert book.exhausted(G(), now=100.5)
    assert not book.exhausted(G(), now=100.0 + LeaseBook.FULL_RECHECK_S)  # asked again


def test_idle_displays_are_taken_out_and_put_back_when_their_return_fails() -> None:
    book = LeaseBook(block=10)
    book.grant(1, 10, cap=500, now=100.0)
    book.grant(2, 10, cap=500, now=100.0)
    book.spend(2, now=104.0)
    assert book.take_idle(now=105.0, idle_s=5.0) == {1: 10}
    assert book.held() == {2: 9}
    book.put_back({1: 10})
    assert book.take_all() == {1: 10, 2: 9}
    assert book.held() == {}


def test_waiters_on_a_group_are_counted_into_one_ask_and_woken_by_its_grant() -> None:
    async def run() -> list[bool]:
        book = LeaseBook(block=10, first=1)
        waiters = [asyncio.create_task(book.wait(7, 5.0)) for _ in range(3)]
        await asyncio.sleep(0)
        assert book.take_urgent() == [(7, 3)]  # as many displays as waiters
        book.grant(7, 3, cap=500, asked=3, leased=3)
        woken = await asyncio.gather(*waiters)
        late = asyncio.create_task(book.wait(8, 5.0))
        await asyncio.sleep(0)
        book.failed([8])  # the statement failed: the waiter stops waiting
        return [*woken, await late]

    assert asyncio.run(run()) == [True, True, True, False]
