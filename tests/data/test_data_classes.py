from trainer.data.classes import IGNORE_LABEL, build_class_mapping
from trainer.data.types import MetaClass, ProjectMeta


def meta(*classes):
    return ProjectMeta(classes=[MetaClass(*c) for c in classes], raw={})


def test_background_added_with_default_colour_neutral_excluded_rest_sorted():
    mapping = build_class_mapping(
        meta(("zebra", "polygon", "#000001"), ("neutral", "rectangle", "#000002"), ("ant", "point", "#000003"),
             ("Bee", "bitmap", "#000004")),
        background="bg",
        neutral="neutral",
    )
    assert mapping.class_title_to_idx == {"bg": 0, "Bee": 1, "ant": 2, "zebra": 3}
    assert mapping.out_classes == [
        {"title": "bg", "shape": "bitmap", "color": "#222222"},
        {"title": "Bee", "shape": "bitmap", "color": "#000004"},
        {"title": "ant", "shape": "bitmap", "color": "#000003"},
        {"title": "zebra", "shape": "bitmap", "color": "#000001"},
    ]
    assert mapping.num_classes == 4
    assert mapping.pixel_values() == {"bg": 0, "Bee": 1, "ant": 2, "zebra": 3, "neutral": IGNORE_LABEL}
    assert IGNORE_LABEL == 255


def test_existing_background_keeps_its_colour_and_index_0_wherever_it_is_listed():
    mapping = build_class_mapping(
        meta(("cat", "bitmap", "#111111"), ("back", "bitmap", "#ABCDEF")), background="back", neutral="ignore"
    )
    assert mapping.class_title_to_idx == {"back": 0, "cat": 1}
    assert mapping.out_classes[0] == {"title": "back", "shape": "bitmap", "color": "#ABCDEF"}
    assert mapping.pixel_values()["ignore"] == 255


def test_project_with_no_classes_still_has_background():
    mapping = build_class_mapping(meta(), background="bg", neutral="neutral")
    assert mapping.class_title_to_idx == {"bg": 0}
    assert mapping.num_classes == 1
