"""The backtest and slip jobs."""

from dagster import AssetSelection, define_asset_job

from betting_assets.defs.betting.assets import backtests, bet_slips

propose_bets = define_asset_job("propose_bets", selection=AssetSelection.assets(bet_slips),
                                description="Bet slips for the events at their decision time.",
                                tags={"betting/stage": "slips"})
run_backtests = define_asset_job("run_backtests", selection=AssetSelection.assets(backtests),
                                 description="Every registered strategy replayed over the window.",
                                 tags={"betting/stage": "backtests"})
