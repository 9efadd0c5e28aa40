"""What `weights_init_type` needs of the config alone, checked before TensorFlow loads (trainer.model.weights checks
the weights themselves)."""
from trainer.errors import UserError


def require_init_weights(cfg: dict) -> None:
    """continue_training continues something: without init_weights there is nothing to continue (the plugin's own
    train config says continue_training and leaves the weights to its model picker)."""
    if cfg["weights_init_type"] == "continue_training" and cfg["init_weights"] is None:
        raise UserError("weights_init_type: continue_training needs init_weights: "
                        "the checkpoint or run folder to continue from")
