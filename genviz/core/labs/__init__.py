"""Concept labs: small pure functions behind the course's core ideas, drawn live by genviz.gui.labs."""
