"""Files shipped with genviz (stylesheet); installed as the package `genviz.resources`."""
