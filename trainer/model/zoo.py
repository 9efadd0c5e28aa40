"""A research/deeplab model-zoo checkpoint as one of our checkpoint folders (config.json + weights/, what training
writes), so infer.py, load_model and init_weights use it as is."""
from importlib import resources
from pathlib import Path

from trainer.data.classes import ClassMapping, ordered_mapping, voc_color
from trainer.errors import UserError
from trainer.model.backbones import backbone
from trainer.model.checkpoint_info import CheckpointInfo

# Datasets whose class lists ship in trainer/data/zoo_classes; index 0 of VOC ("background") and ADE20K ("other",
# DeepLab's ignored label) becomes the config's background title, as our index 0 always is.
ZOO_DATASETS = ("voc", "cityscapes", "ade20k")
_BACKGROUND_FIRST = ("voc", "ade20k")


def class_titles(classes: str, background: str) -> list[str]:
    """The titles of a named dataset, or of FILE (one title per line, in logit order)."""
    if classes in ZOO_DATASETS:
        text = resources.files("trainer.data").joinpath(f"zoo_classes/{classes}.txt").read_text(encoding="utf-8")
        titles = text.splitlines()
        return [background, *titles[1:]] if classes in _BACKGROUND_FIRST else titles
    try:
        titles = [line.strip() for line in Path(classes).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as err:
        raise UserError(f"--classes {classes}: not one of {', '.join(ZOO_DATASETS)} nor a readable file "
                        f"({err.strerror})") from None
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    if not titles or duplicates:
        raise UserError(f"--classes {classes}: " + (f"titles repeated: {', '.join(duplicates)}" if titles
                                                    else "no class titles (one per line expected)"))
    return titles


def zoo_classes(cfg: dict, titles: list[str]) -> ClassMapping:
    """The checkpoint's classes in logit order, in VOC's colours."""
    neutral = cfg["special_classes"]["neutral"]
    if neutral in titles:
        raise UserError(f'--classes: "{neutral}" is the neutral class title (special_classes.neutral): '
                        "rename it or set another neutral title")
    return ordered_mapping(titles, {t: voc_color(i) for i, t in enumerate(titles)}, neutral)


def tf1_prefix(cfg: dict, checkpoint: Path, preset: str) -> str:
    """The TF1 checkpoint to convert, refused unless the preset's architecture is research/deeplab's."""
    if backbone(cfg["model"]).tf1_scope is None:
        raise UserError(f'--preset {preset}: model.implementation is not "deeplab": '
                        "only research/deeplab's architectures take its checkpoints")
    from trainer.model.tf1_import import find_tf1_checkpoint

    prefix = find_tf1_checkpoint(checkpoint)
    if prefix is None:
        raise UserError(f"CHECKPOINT {checkpoint}: no TF1 checkpoint there (a model.ckpt… prefix with its "
                        ".index file, or a folder holding one)")
    return prefix


def convert(prefix: str, cfg: dict, classes: ClassMapping, output: Path) -> str:
    """Import the TF1 checkpoint (every variable, classifier included) and write the folder atomically; returns the
    import summary."""
    from trainer.model.builder import build_model
    from trainer.model.checkpoints import write_folder
    from trainer.model.tf1_import import load_tf1

    source = str(Path(prefix).resolve())   # provenance that survives a cd
    info = CheckpointInfo({**cfg, "init_weights": source}, classes, source=f"research/deeplab TF1 checkpoint {source}")
    model = build_model(cfg["model"], classes.num_classes)
    loaded = load_tf1(model, prefix, skip_classifier=False)
    write_folder(output, model, info)
    return loaded.summary(prefix, "all variables")
