"""Argument parsing shared by `python -m utils`'s commands: the model option, comma lists, batch sizes."""

from __future__ import annotations

import argparse

from utils.errors import WorkbookError


def model_argument(parser: argparse.ArgumentParser) -> None:
    from utils.models import DEFAULT_MODEL, MODEL_ENV_VAR

    parser.add_argument("--model", help=f"model name (default: ${MODEL_ENV_VAR} or {DEFAULT_MODEL})")


def comma_list(text: str, option: str, example: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise WorkbookError(f"{option} {text!r} names nothing; write it like {example}")
    return items


def batch_sizes(text: str, option: str = "--batch", example: str = "1,8,32") -> list[int]:
    """"1,8,32" -> [1, 8, 32], in the given order, each a positive whole number."""
    try:
        values = [int(part) for part in comma_list(text, option, example)]
    except ValueError:
        raise WorkbookError(f"{option} {text!r} is not a list of batch sizes; write it like {example}") from None
    if any(v < 1 for v in values):
        raise WorkbookError(f"{option} {text!r} needs positive batch sizes, like {example}")
    return values
