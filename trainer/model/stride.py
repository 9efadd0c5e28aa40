"""Running a trained model at another output stride than it was trained with, as DeepLab evaluates at OS 8
models trained at OS 16: strides and atrous rates change no weight, so only the computation differs."""
from trainer.config.validate import load_schema
from trainer.errors import UserError


def at_output_stride(model_cfg: dict, output_stride: int | None, atrous_rates: list[int] | None,
                     prefix: str = "model.") -> dict:
    """The model settings with these overrides (None: as trained).

    Rates not given follow the stride (16 → 8 doubles them: [6, 12, 18] → [12, 24, 36]), so a new stride alone
    never leaves the ASPP looking at a field of view it was not trained for. The number of rates is the number of
    ASPP branches, which fixes the weights, so it cannot change.
    """
    trained_stride, trained_rates = model_cfg["output_stride"], list(model_cfg["atrous_rates"])
    stride = trained_stride if output_stride is None else output_stride
    strides = load_schema("train")["properties"]["model"]["properties"]["output_stride"]["enum"]
    if stride not in strides:
        raise UserError(f"{prefix}output_stride: {stride!r} is not one of {strides}")
    if model_cfg["dense_prediction_cell"] and stride not in (8, 16):
        raise UserError(f"{prefix}output_stride: {stride} has no Dense Prediction Cell (its rates are for output "
                        "stride 16, scaled by 16 / output_stride): use 8 or 16")
    if atrous_rates is not None and not all(isinstance(r, int) and r >= 1 for r in atrous_rates):
        raise UserError(f"{prefix}atrous_rates: {atrous_rates!r} is not a list of integers >= 1")
    if atrous_rates is None:
        if any(rate * trained_stride % stride for rate in trained_rates):
            raise UserError(f"{prefix}output_stride: {stride} would scale the trained ASPP rates {trained_rates} "
                            f"by {trained_stride}/{stride} to non-integers: give {prefix}atrous_rates too")
        rates = [rate * trained_stride // stride for rate in trained_rates]
    else:
        rates = list(atrous_rates)
        if len(rates) != len(trained_rates):
            raise UserError(f"{prefix}atrous_rates: {rates} has {len(rates)} rates, the model was trained with "
                            f"{len(trained_rates)} ({trained_rates}): the number of ASPP branches fixes the weights")
    return {**model_cfg, "output_stride": stride, "atrous_rates": rates}


def describe_change(trained: dict, used: dict) -> str | None:
    """One log line when the settings differ from the trained ones."""
    if (trained["output_stride"], trained["atrous_rates"]) == (used["output_stride"], used["atrous_rates"]):
        return None
    return (f"model run at output stride {used['output_stride']} with ASPP rates {used['atrous_rates']} "
            f"(trained at {trained['output_stride']} with {trained['atrous_rates']}; same weights)")
