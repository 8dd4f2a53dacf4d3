"""One daily digest per person, however many notification workers run (`libeo notify --loop`, several).

Each worker claims up to a batch of due rows, then the rest of the digest rows of the people it found. When
another worker holds some of a person's rows at that moment, the two would each send the part they hold: two
« Récapitulatif » the same morning. The worker that finds part of a person's digest held elsewhere lets its own
part go instead; whichever pass then finds them all free sends them together."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select, update

from core.notifications import CLAIM

from .test_notifications import a_day_for_the_digest


def test_a_person_gets_one_digest_when_another_worker_holds_part_of_it(apps, client, mail, libeo_auth):
    boulangerie, eight = a_day_for_the_digest(apps, client, mail, libeo_auth)

    # At 8:01 another worker has just claimed the newest of the three rows, in the middle of its own pass.
    with apps.libeo.app_context():
        from models.libeo import db
        from models.libeo.notifications.kinds import notifier

        table = notifier.notification
        newest = db.session.scalar(select(table.id).where(table.recipient == boulangerie.admin)
                                   .order_by(table.id.desc()).limit(1))
        db.session.execute(update(table).where(table.id == newest).values(
            claim_token="another-worker", claimed_until=(eight + timedelta(minutes=1) + CLAIM).astimezone(UTC)))
        db.session.commit()

    mail.send("libeo", eight + timedelta(minutes=1))
    # The other worker's claim lapses (it stopped, or let its part go as this one did): the next pass sends all.
    mail.send("libeo", eight + timedelta(minutes=2) + CLAIM)
    mail.send("libeo", eight + timedelta(hours=1) + CLAIM)

    assert [message.subject for message in mail.to(boulangerie.admin)] == ["Récapitulatif : 3 notifications"]
