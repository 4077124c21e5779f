"""A small clean IVR to build tests on (C1)."""

from __future__ import annotations

import copy
from typing import Any

from escucha.ivr.rules import IvrModel
from escucha.ivr.schemas import IvrSpec

BASE: dict[str, Any] = {
    "languages": ["es", "en"],
    "entry": "main",
    "agent": "people",
    "greeting": {"es": "Bienvenido a Ejemplo.", "en": "Welcome to Ejemplo."},
    "nodes": {
        "main": {
            "type": "menu",
            "options": [
                {
                    "key": "1",
                    "label": {"es": "facturas", "en": "bills"},
                    "keywords": {"es": ["factura", "recibo"], "en": ["bill"]},
                    "goto": "billing",
                },
                {
                    "key": "2",
                    "label": {"es": "averías", "en": "faults"},
                    "keywords": {"es": ["avería", "no funciona"], "en": ["fault", "broken"]},
                    "goto": "faults",
                },
                {
                    "key": "3",
                    "label": {"es": "horarios", "en": "opening hours"},
                    "keywords": {"es": ["horario"], "en": ["hours"]},
                    "goto": "hours_info",
                },
            ],
        },
        "faults": {
            "type": "menu",
            "options": [
                {
                    "key": "1",
                    "label": {"es": "internet", "en": "internet"},
                    "keywords": {"es": ["internet"], "en": ["internet"]},
                    "goto": "faults_q",
                },
                {
                    "key": "2",
                    "label": {"es": "el teléfono", "en": "the phone"},
                    "keywords": {"es": ["teléfono"], "en": ["phone"]},
                    "goto": "faults_q",
                },
            ],
        },
        "hours_info": {
            "type": "info",
            "message": {"es": "Abrimos de 8 a 20 horas.", "en": "We open from 8 am to 8 pm."},
            "then": "main",
        },
        "people": {"type": "queue", "queue": "general"},
        "billing": {"type": "queue", "queue": "billing"},
        "faults_q": {"type": "queue", "queue": "faults"},
    },
}


def ivr_dict(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`BASE` with top-level keys replaced."""
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def build(data: dict[str, Any] | None = None) -> IvrModel:
    return IvrSpec.model_validate(data if data is not None else ivr_dict()).to_model()
