"""`rnnlab datasets`: the real data sets bundled with rnnlab, usable by name wherever a file is."""

from __future__ import annotations

from rnnlab.data.bundled import bundled_path, list_datasets, list_sensor_datasets, list_text_datasets


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("datasets", help="list the bundled data sets (time series, text and sensor series)")
    parser.set_defaults(run=run)


def run(args) -> int:
    infos = list_datasets()
    text_infos = list_text_datasets()
    sensor_infos = list_sensor_datasets()
    width = max(len(info.name) for info in [*infos, *text_infos, *sensor_infos])
    print("Time series (forecasting):")
    for info in infos:
        print(f"{info.name:<{width}}  {info.points:>6} points  target {info.target!r}  columns {list(info.columns)}")
        print(f"{'':<{width}}  {info.description}")
        print(f"{'':<{width}}  source and licence: {bundled_path(info.name) / 'SOURCE.md'}")
    print()
    print("Text (classification, generation, tagging, translation):")
    for info in text_infos:
        print(f"{info.name:<{width}}  {info.size:>6} {info.unit}  kind {info.kind!r}")
        print(f"{'':<{width}}  {info.description}")
        print(f"{'':<{width}}  source and licence: {bundled_path(info.name) / 'SOURCE.md'}")
    print()
    print("Sensor series (classify-series; anomaly detection):")
    for info in sensor_infos:
        print(f"{info.name:<{width}}  kind {info.kind!r}  files {[path.name for path in info.files]}")
        print(f"{'':<{width}}  {info.description}")
        print(f"{'':<{width}}  source and licence: {info.files[0].parent / 'SOURCE.md'}")
    return 0
