# The helper that puts every family's figures and summary tables into the HTML
# report (`make report`, i.e. snakemake --report); used by the rules of each family.

# Report categories, one per family; captions are report/<family>/<name>.rst.
REPORT_CATEGORIES = {"classification": "Classification"}
REPORT_CATEGORIES.update({fam.name: fam.title[0].upper() + fam.title[1:] for fam in section_families()})


def in_report(path, family, subcategory, caption=None):
    """``path`` marked for `snakemake --report` with the caption named ``caption``
    (default: the file's stem); the SVG copy of a PNG figure stays out of it."""
    if path.endswith(".svg"):
        return path
    name = caption or os.path.splitext(os.path.basename(path))[0]
    return report(
        path,
        caption=os.path.join(workflow.basedir, "report", family, f"{name}.rst"),
        category=REPORT_CATEGORIES[family],
        subcategory=subcategory,
    )


def classification_figure_group(path):
    """The tasks a classification figure draws: binary pairs in their own figure."""
    kinds = ("binary_pairs",) if os.path.basename(path).startswith("binary_pairs") else ("binary", "multiclass")
    label = "binary-pair tasks" if kinds == ("binary_pairs",) else "tasks"
    return f"{label}: " + (", ".join(name for name, task in CFG["tasks"].items() if task["kind"] in kinds) or "none")
