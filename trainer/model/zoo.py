"""A research/deeplab model-zoo checkpoint or frozen graph as one of our checkpoint folders (config.json + weights/,
what training writes), so infer.py, load_model and init_weights use it as is; a graph's export stride and rates become
the folder's inference defaults."""
from importlib import resources
from pathlib import Path

from trainer.data.classes import ClassMapping, ordered_mapping, voc_color
from trainer.errors import UserError
from trainer.model.backbones import backbone
from trainer.model.checkpoint_info import CheckpointInfo
from trainer.model.tf1_source import FROZEN_GRAPH, FROZEN_GRAPH_FILE, Tf1Source, Tf1Target, find_tf1_source

# Datasets whose class lists ship in trainer/data/zoo_classes; index 0 of VOC ("background") and ADE20K ("other",
# DeepLab's ignored label) becomes the config's background title, as our index 0 always is.
ZOO_DATASETS = ("voc", "cityscapes", "ade20k")
_BACKGROUND_FIRST = ("voc", "ade20k")
_DEMO_IMAGES = 4   # --verify's default images: the first of each demo dataset


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


def tf1_source(cfg: dict, checkpoint: Path, preset: str) -> Tf1Source:
    """The TF1 checkpoint or frozen graph to convert, refused unless the preset's architecture is research/deeplab's."""
    if backbone(cfg["model"]).tf1_scope is None:
        raise UserError(f'--preset {preset}: model.implementation is not "deeplab": '
                        "only research/deeplab's architectures take its checkpoints")
    source = find_tf1_source(checkpoint)
    if source is None:
        raise UserError(f"CHECKPOINT {checkpoint}: no TF1 checkpoint or frozen graph there (a …ckpt… prefix with "
                        f"its .index file, such as model.ckpt-30000, a {FROZEN_GRAPH_FILE} or other .pb, or a folder "
                        "holding one)")
    return source


def verify_graph(source: Tf1Source) -> Path:
    """The frozen graph --verify runs: the source itself, or the one beside the checkpoint (a zoo tarball has both)."""
    graph = Path(source.path) if source.kind == FROZEN_GRAPH else Path(source.path).parent / FROZEN_GRAPH_FILE
    if not graph.is_file():
        raise UserError(f"--verify: runs the original frozen graph, and there is no {FROZEN_GRAPH_FILE} beside "
                        f"{source.label}: pass the graph as CHECKPOINT")
    return graph


def verify_images(paths: list[str]) -> list:
    """The images --verify runs on: these files, or (none given) the first few of the demo project."""
    from trainer.data.demo import DATASETS, demo_project
    from trainer.data.images import list_files, read_image

    if not paths:
        root = demo_project()
        return [read_image(p) for dataset in DATASETS for p in list_files(root / dataset / "img")[:_DEMO_IMAGES // 2]]
    return [read_image(Path(p)) for p in paths]


def convert(source: Tf1Source, cfg: dict, classes: ClassMapping, output: Path, target: Tf1Target) -> list[str]:
    """Import the TF1 variables (every one, classifier included) and write the folder atomically; returns the import
    summary and, from a frozen graph, the line saying how the converted model runs by default."""
    from trainer.model.builder import build_model
    from trainer.model.checkpoints import write_folder
    from trainer.model.tf1_import import load_tf1

    model = build_model(cfg["model"], classes.num_classes)
    tensors = source.open()
    lines = [load_tf1(model, tensors, target, skip_classifier=False).summary("all variables")]
    defaults = None
    if source.kind == FROZEN_GRAPH:
        from trainer.model.zoo_graph import exported_settings

        settings, _ = exported_settings(tensors.graph, cfg["model"], classes.num_classes, model)
        defaults = {key: settings[key] for key in ("output_stride", "atrous_rates")}
        lines.append(f"the frozen graph was exported at output stride {settings['output_stride']} with ASPP rates "
                     f"{settings['atrous_rates']} ({target.config} trains at {cfg['model']['output_stride']} with "
                     f"{cfg['model']['atrous_rates']}; same weights): recorded as the converted model's default, so "
                     "infer.py and load_model run it as exported unless model.output_stride / model.atrous_rates "
                     "(output_stride= / atrous_rates=) say otherwise")
    path = str(Path(source.path).resolve())   # provenance that survives a cd
    info = CheckpointInfo({**cfg, "init_weights": path}, classes, source=f"research/deeplab {source.noun} {path}",
                          inference_defaults=defaults)
    write_folder(output, model, info)
    return lines
