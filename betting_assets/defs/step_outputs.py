"""The IO manager: what an op hands the next one is kept in the warehouse.

Dagster's default keeps outputs as files under the instance's folder, which only works while every
step runs on the host that wrote them. With steps on Celery workers (``BETTING_CELERY_BROKER``)
the next step may run anywhere, and the warehouse is the one store every host already reaches, so
outputs go there, in every deployment alike: what the tests run in process is what workers run.
Assets hand nothing on (they write the warehouse and return a ``MaterializeResult``); only
``place_bets``'s ops pass values.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext
from sqlalchemy import delete, insert, select

from betting_assets.defs.resources import WarehouseResource
from betting_assets.warehouse.tables import step_outputs

KEEP = timedelta(days=30)
"""how long a run's outputs stay: re-executing a failed run from its failed step reads them"""


class WarehouseIOManager(ConfigurableIOManager):
    warehouse: WarehouseResource

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        now = datetime.now(timezone.utc)
        key = (context.run_id, context.step_key, context.name)
        with self.warehouse.engine().begin() as conn:
            conn.execute(delete(step_outputs).where(step_outputs.c.stored_at < now - KEEP))
            conn.execute(delete(step_outputs).where(*_where(*key)))
            conn.execute(insert(step_outputs).values(run_id=key[0], step_key=key[1], output_name=key[2],
                                                     stored_at=now, value=pickle.dumps(obj)))

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        if upstream is None:
            raise ValueError(f"input {context.name} has no upstream output to load")
        key = (upstream.run_id, upstream.step_key, upstream.name)
        with self.warehouse.connect() as conn:
            value = conn.scalar(select(step_outputs.c.value).where(*_where(*key)))
        if value is None:
            raise FileNotFoundError(f"no output {key[2]} of step {key[1]} in run {key[0]} in the warehouse "
                                    f"(outputs are kept {KEEP.days} days)")
        return pickle.loads(value)


def _where(run_id: str, step_key: str, name: str) -> list[Any]:
    return [step_outputs.c.run_id == run_id, step_outputs.c.step_key == step_key, step_outputs.c.output_name == name]
