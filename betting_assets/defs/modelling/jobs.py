"""The training job."""

from dagster import AssetSelection, define_asset_job

from betting_assets.defs.modelling.assets import trained_model

train_model = define_asset_job(
    "train_model", selection=AssetSelection.assets(trained_model), tags={"betting/stage": "training"},
    description="Tune, fit, log and register the models; the champion alias moves only past the gate.")
