"""Server-rendered screens (Jinja2 + HTMX), grouped by who uses them."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
