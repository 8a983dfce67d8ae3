"""Checks on ``trained_model``, read back from the MLflow registry (not from the asset's own
metadata): the newest version of each model was tested on enough events, is what its label
says (trees that split, or its market prior alone), and is not worse than the market beyond
chance."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from betting_assets.defs.metadata import rounded
from betting_assets.defs.modelling.assets import trained_model
from betting_assets.defs.resources import MlflowResource
from betting_assets.domain.betting.intervals import MIN_ITEMS


def _newest(mlflow: MlflowResource):  # type: ignore[no-untyped-def]
    return mlflow.tracker().latest()


def _result(passed: bool, lines: list[str], severity: AssetCheckSeverity = AssetCheckSeverity.WARN,
            **numbers: object) -> AssetCheckResult:
    return AssetCheckResult(passed=passed, severity=severity, metadata={
        "versions": MetadataValue.md("\n".join(f"- {line}" for line in lines) or "no registered version"),
        **numbers})


@asset_check(asset=trained_model, description=f"The newest version of each model was scored out of time on at least "
             f"{MIN_ITEMS} events (fewer give no interval, and no claim).")
def enough_out_of_time_events(context: AssetCheckExecutionContext, mlflow: MlflowResource) -> AssetCheckResult:
    newest = _newest(mlflow)
    lines, fewest = [], None
    for ref, metrics, _ in newest:
        events = int(metrics.get("oot_events", 0))
        fewest = events if fewest is None else min(fewest, events)
        lines.append(f"{ref.name} v{ref.version}: {events} out-of-time events")
    return _result(bool(newest) and (fewest or 0) >= MIN_ITEMS, lines, fewest_oot_events=fewest or 0)


@asset_check(asset=trained_model, description="The newest version is what its label says: trees that split "
             "(positive total gain), or labelled as its market prior alone when no tree split.")
def trees_split_or_labelled(context: AssetCheckExecutionContext, mlflow: MlflowResource) -> AssetCheckResult:
    newest = _newest(mlflow)
    lines, honest = [], True
    for ref, metrics, tags in newest:
        trees, gain = int(metrics.get("split_trees", 0)), float(metrics.get("total_gain", 0.0))
        labelled = tags.get("betting/prior_only") == "true"
        ok = (trees > 0 and gain > 0 and not labelled) or (trees == 0 and labelled)
        honest &= ok
        lines.append(f"{ref.name} v{ref.version}: {trees} trees split (total gain {gain:.3g}), "
                     f"{'labelled prior alone' if labelled else 'labelled a tree model'}{'' if ok else ' — mismatch'}")
    return _result(bool(newest) and honest, lines, AssetCheckSeverity.ERROR,
                   split_trees=sum(int(m.get("split_trees", 0)) for _, m, _ in newest))


@asset_check(asset=trained_model, description="The newest version is not worse than the best de-vigged sharp "
             "price beyond chance: the 95% interval of its log-loss gain over the market reaches zero or above.")
def not_worse_than_market(context: AssetCheckExecutionContext, mlflow: MlflowResource) -> AssetCheckResult:
    newest = _newest(mlflow)
    lines, passed, numbers = [], True, {}
    for ref, metrics, tags in newest:
        high = metrics.get("oot_gain_vs_market_high")
        lines.append(f"{ref.name} v{ref.version}: {tags.get('betting/vs_market', 'no market comparison')}")
        if high is not None:
            passed &= high >= 0
            kind = ref.name.rsplit("_", 1)[-1]
            numbers.update({f"{kind}_gain_vs_market": rounded(metrics.get("oot_gain_vs_market", 0.0), 5),
                            f"{kind}_gain_vs_market_low": rounded(metrics.get("oot_gain_vs_market_low", 0.0), 5),
                            f"{kind}_gain_vs_market_high": rounded(high, 5)})
    return _result(bool(newest) and passed, lines, **numbers)

