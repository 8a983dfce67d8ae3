"""The venue's account beside the ledger: after a settlement, the money the account holds must
have moved, since the last check, by exactly the net P&L the ledger settled in between.

The wallet (available to bet plus what open bets hold) moves only when a market settles, by the
bets' profit less the market's commission; placing, lapsing and cancelling leave it as it was.
The ledger's net P&L of the venue's settled bets moves when settlement records them. The two are
read so that they describe the same moment: the account before the cleared reports are read and
again after the ledger has recorded them; if the account moved in between (a market settled while
we read), the pair is not recorded and the next settlement checks again. A difference is a
finding with both figures: a deposit or withdrawal, a bet placed outside the product, or a
settlement the ledger holds wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Engine, func, insert, select

from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.orders.states import BetStatus
from betting_assets.venues import VenueName
from betting_assets.venues.base import Account, Venue
from betting_assets.warehouse import writes
from betting_assets.warehouse.tables import account_checks, bets

CHECK = "account_reconciliation"
PENNY = 0.005


@dataclass(frozen=True)
class AccountCheck:
    wallet: float
    ledger_net: float
    wallet_moved: float | None
    """since the venue's previous check; None on the first, which anchors the next"""
    ledger_moved: float | None
    markets: int
    finding: Finding | None = None

    @property
    def difference(self) -> float | None:
        if self.wallet_moved is None or self.ledger_moved is None:
            return None
        return round(self.wallet_moved - self.ledger_moved, 2)

    def describe(self) -> str:
        if self.wallet_moved is None:
            return f"account {self.wallet:.2f} recorded as the anchor (ledger net {self.ledger_net:+.2f})"
        return (f"account moved {self.wallet_moved:+.2f}, ledger {self.ledger_moved:+.2f} over {self.markets} "
                f"settled markets: difference {self.difference:+.2f}")


def ledger_net(engine: Engine, venue: VenueName) -> tuple[float, int]:
    """The net P&L of every bet the venue settled (void ones at nothing), and how many markets."""
    with engine.connect() as conn:
        rows = conn.execute(select(bets.c.broker, func.coalesce(func.sum(bets.c.profit), 0.0),
                                   func.count(func.distinct(bets.c.market_id)))
                            .where(bets.c.status.in_([BetStatus.SETTLED, BetStatus.VOID]))
                            .group_by(bets.c.broker)).all()
    ours = [(float(net), int(markets)) for broker, net, markets in rows if VenueName(broker) is venue]
    return round(sum(n for n, _ in ours), 2), sum(m for _, m in ours)


def reconcile(engine: Engine, venue: VenueName, before: Account, after: Account, now: datetime) -> AccountCheck | None:
    """Records the account beside the ledger and compares both movements with the venue's last
    check; None when the account moved while settlement read it (``before`` and ``after``
    differ), since the ledger may then hold part of that movement only."""
    if abs(before.wallet - after.wallet) >= PENNY:
        return None
    net, markets = ledger_net(engine, venue)
    with engine.begin() as conn:
        last = conn.execute(select(account_checks.c.wallet, account_checks.c.ledger_net, account_checks.c.markets)
                            .where(account_checks.c.venue == venue.value)
                            .order_by(account_checks.c.check_id.desc()).limit(1)).first()
        moved = None if last is None else round(after.wallet - float(last.wallet), 2)
        ledger_moved = None if last is None else round(net - float(last.ledger_net), 2)
        check = AccountCheck(after.wallet, net, moved, ledger_moved, markets - (int(last.markets) if last else 0))
        conn.execute(insert(account_checks).values(
            venue=venue.value, checked_at=now, available=after.available, exposure=after.exposure,
            wallet=after.wallet, ledger_net=net, wallet_moved=moved, ledger_moved=ledger_moved,
            difference=check.difference, markets=markets))
        if check.difference is None or abs(check.difference) < PENNY:
            return check
        finding = Finding(
            CHECK, "error", f"the {venue.value} account moved {moved:+.2f} since its last check, the ledger's settled "
            f"net P&L {ledger_moved:+.2f}: {check.difference:+.2f} the ledger does not hold (a deposit or "
            "withdrawal, a bet placed elsewhere, or a settlement recorded wrong)",
            context={"venue": venue.value, "wallet_moved": moved, "ledger_moved": ledger_moved,
                     "wallet": after.wallet, "ledger_net": net, "checked_at": now.isoformat()})
        writes.record_findings(conn, [finding], source=CHECK, recorded_at=now)
    return replace(check, finding=finding)


def anchor_once(engine: Engine, venue: Venue, now: datetime) -> AccountCheck | None:
    """The venue's first check, taken before its first bet is placed, so the first settlement
    already has a movement to compare; nothing once the venue has one, or has no account."""
    with engine.connect() as conn:
        held = conn.execute(select(account_checks.c.check_id).where(account_checks.c.venue == venue.name.value)
                            .limit(1)).first()
    before = None if held is not None else venue.account()
    if before is None:
        return None
    return reconcile(engine, venue.name, before, venue.account(), now)   # type: ignore[arg-type]
