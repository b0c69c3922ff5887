"""A template family: squares the numbers its config lists (docs/extending.md).

Copy this folder to src/exprbench/<name>/, rename "toy" everywhere to <name>, and
replace the squaring with your method. Nothing outside the folder needs an edit.
"""

from ..family import Family

# name: the config section, the results subfolder and the package name.
FAMILY = Family(name="toy", title="toy squares")
