"""JSON Schema of the script format, for editors (yaml-language-server) to complete and check.
Built from the loader's own key lists so the two cannot drift apart."""

from __future__ import annotations

from toolkit.script.loader import (
    CUE_KEYS,
    EMAIL,
    FORMATS,
    MAX_PAUSE,
    MODIFIERS,
    ROOMS,
    SHOW_KEYS,
    SHOW_REQUIRED,
    UUID,
)
from toolkit.script.model import EXTENSIONS
from toolkit.script.nodes import MAX_TEXT

ID = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
MODIFIER_TYPES = {
    "direction": {**TEXT, "description": "How the line is delivered, e.g. quietly, laughing."},
    "ext": {
        "enum": list(EXTENSIONS),
        "description": "V.O. dry and close; O.S. off-screen; FILTERED phone.",
    },
    "overlap": {
        "type": "number",
        "minimum": 0,
        "maximum": 5,
        "description": "Seconds to start before the previous line ends.",
    },
    "volume": {"type": "number", "minimum": -60, "maximum": 12, "description": "Gain in dB."},
    "pan": {
        "type": "number",
        "minimum": -1,
        "maximum": 1,
        "description": "-1 left, 0 centre, 1 right.",
    },
}
MAIN_TYPES = {
    "narration": {**TEXT, "description": "The narrator speaks (V.O.)."},
    "pause": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": MAX_PAUSE,
        "description": "Seconds of silence.",
    },
    "sfx": {**ID, "description": "A sound effect (drama sounds lists them)."},
    "ambience": {**ID, "description": "Change the bed for the rest of the scene."},
    "music": {**ID, "description": "A music cue: intro, outro, sting."},
}
SHOW_TYPES = {
    "explicit": {"type": "boolean"},
    "type": {"enum": ["serial", "episodic"]},
    "season": {"type": "integer", "minimum": 1},
    "base_url": {"type": "string", "pattern": "^https?://[^\\s/]+[^\\s]*$"},
    "cover": {"type": "string", "pattern": "\\.([Jj][Pp][Ee]?[Gg]|[Pp][Nn][Gg])$"},
    "owner": {
        "type": "object",
        "properties": {"name": TEXT, "email": {"type": "string", "pattern": f"^{EMAIL.pattern}$"}},
        "required": ["name", "email"],
        "additionalProperties": False,
    },
    "cast": {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Z][A-Z_]*$"},
        "additionalProperties": TEXT,
        "minProperties": 1,
    },
    "schedule": {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date"},
            "every_days": {"type": "integer", "minimum": 0},
        },
        "required": ["start"],
        "additionalProperties": False,
    },
    "chapters": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "formats": {"type": "array", "items": {"enum": FORMATS}},
    "captions": {
        "type": "object",
        "properties": {"sounds": {"type": "boolean"}},
        "additionalProperties": False,
    },
    "guid": {"type": "string", "pattern": f"^{UUID.pattern}$"},
    "cache": {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*://"},
}


def _line() -> dict:
    variants = []
    for key in CUE_KEYS:
        allowed = [key, *MODIFIERS[key]]
        variants.append(
            {
                "type": "object",
                "properties": {k: MAIN_TYPES.get(k, MODIFIER_TYPES.get(k)) for k in allowed},
                "required": [key],
                "additionalProperties": False,
            }
        )
    variants.append(
        {
            "type": "object",
            "description": "A character's line: CHARACTER: text",
            "properties": {k: MODIFIER_TYPES[k] for k in MODIFIERS["speech"]},
            "patternProperties": {"^[A-Z][A-Z_]*$": TEXT},
            "minProperties": 1,
            "additionalProperties": False,
        }
    )
    return {"oneOf": variants}


def schema() -> dict:
    """One schema for both file kinds: a show file or a chapter file."""
    show = {
        "type": "object",
        "properties": {k: SHOW_TYPES.get(k, TEXT) for k in SHOW_KEYS},
        "required": SHOW_REQUIRED,
        "additionalProperties": False,
    }
    scene = {
        "type": "object",
        "properties": {
            "id": ID,
            "title": TEXT,
            "setting": TEXT,
            "ambience": ID,
            "room": {"enum": ROOMS},
            "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
        },
        "required": ["id", "setting", "ambience", "lines"],
        "additionalProperties": False,
    }
    chapter = {
        "type": "object",
        "properties": {
            "id": ID,
            "title": TEXT,
            "description": TEXT,
            "release": {"type": "string", "format": "date"},
            "scenes": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/scene"}},
        },
        "required": ["id", "title", "scenes"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Audio drama script (show file or chapter file)",
        "$defs": {"show": show, "chapter": chapter, "scene": scene, "line": _line()},
        "oneOf": [{"$ref": "#/$defs/show"}, {"$ref": "#/$defs/chapter"}],
    }
