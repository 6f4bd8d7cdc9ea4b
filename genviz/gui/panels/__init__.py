"""Family -> panel class, by import path, so adding a family never edits the main window."""
from __future__ import annotations

import importlib

PANELS = {
    "flows": "genviz.gui.panels.flows:FlowsPanel",
    "gan": "genviz.gui.panels.gan:GANPanel",
    "ebm": "genviz.gui.panels.ebm:EBMPanel",
    "autoregressive": "genviz.gui.panels.autoregressive:AutoregressivePanel",
    "vae": "genviz.gui.panels.vae:VAEPanel",
    # one line per family: "vae": "genviz.gui.panels.vae:VAEPanel", ...
}


def panel_class(family: str):
    """The family's panel class; families without one get the plain Panel (the loss plot still shows)."""
    from genviz.gui.panels.base import Panel

    target = PANELS.get(family)
    if target is None:
        return Panel
    mod, cls = target.split(":")
    return getattr(importlib.import_module(mod), cls)
