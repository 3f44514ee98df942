"""One ask's watch of its question: woken on news, and never handed a read it no longer holds."""

from __future__ import annotations

import asyncio

from airflow_chat_alerts.model import MessageSnapshot, QuestionRead
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch


class Owner:
    """What the runtime is to a watch (nothing is decided here)."""

    def settled(self, watch, outcome): ...

    def delivered(self, watch, read): ...

    def vetted(self, watch, read):
        return read


async def members(group: str, fresh: bool) -> frozenset[str]:
    return frozenset()


def watch() -> QuestionWatch:
    return QuestionWatch("conn", "C0ML", "1.000100", poll_interval=1.0, read_group=members, owner=Owner())


def test_a_read_known_from_pushed_events_withdrawn_before_the_ask_took_it_is_not_handed_over():
    """Push learnt of another socket while the ask had not yet taken the read its events made: the ask
    waits for the next real read instead (it once crashed on the withdrawn read)."""

    async def scenario() -> QuestionRead:
        w = watch()
        w.deliver(QuestionRead(MessageSnapshot(ts="1.000100", user="U0APP"), read_at=0.0, app_user_id="U0APP"))
        w.forget_pushed()
        assert w.latest is None
        taking = asyncio.ensure_future(w.next())
        await asyncio.sleep(0.05)
        assert not taking.done()
        real = QuestionRead(MessageSnapshot(ts="1.000100", user="U0APP"), read_at=5.0, replies_read_at=5.0)
        w.deliver(real)
        return await asyncio.wait_for(taking, 5)

    assert asyncio.run(scenario()).read_at == 5.0


def test_a_pushed_reactions_time_is_kept_for_later_reads():
    from airflow_chat_alerts.model import Answer

    async def scenario() -> QuestionRead:
        w = watch()
        w.note_reaction("U0BOB", ":X:", "1.500000")
        reaction = Answer("reaction", "U0BOB", "x")
        w.deliver(QuestionRead(MessageSnapshot(ts="1.000100", user="U0APP", reactions=(reaction,)), read_at=9.0))
        return await w.next()

    assert asyncio.run(scenario()).snapshot.reactions[0].ts == "1.500000"
