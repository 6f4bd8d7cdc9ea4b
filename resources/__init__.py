"""Files shipped with genviz (stylesheet, app icon as SVG and PNG); installed as the package `genviz.resources`."""
