#!/usr/bin/env bash
# Ensures R, limma and the two Bioconductor data packages used by the embedded
# default are installed. Installs them from Debian when running as root;
# otherwise prints the command to run (or the conda alternative) and fails.
set -euo pipefail

debian_packages=(r-base-core r-base-dev r-bioc-limma r-bioc-all r-bioc-bladderbatch)
r_check='for (p in c("limma", "ALL", "bladderbatch")) if (!requireNamespace(p, quietly = TRUE)) quit(status = 1)'

if command -v Rscript >/dev/null 2>&1 && Rscript -e "$r_check" >/dev/null 2>&1 \
    && command -v R >/dev/null 2>&1 && [ -n "$(R RHOME 2>/dev/null)" ] && [ -f "$(R RHOME)/include/R.h" ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing R, limma and the embedded datasets from Debian: ${debian_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${debian_packages[@]}" >/dev/null
  exit 0
fi

cat >&2 <<MSG
R with limma, ALL and bladderbatch is required but was not found.
Install it with:
    sudo apt-get install ${debian_packages[*]}
or, with conda:
    conda env create -f envs/r-limma.yaml && conda activate exprbench-r
MSG
exit 1
