#!/usr/bin/env bash
# The study across training seeds and budgets (docs/study.md), one part at a time. Every step resumes:
# training continues a stopped run and skips finished ones, the benchmark continues its run folder,
# so the same command, run again after a stop, finishes the part.
#
#   scripts/study.sh seeds 0,1,2           the four models at the study budget, one run per seed
#   scripts/study.sh budgets ce 10,20      the cross-entropy pair at more epochs (seed 0); `angular` for the other
#   scripts/study.sh augmix 0              ce_augmix and angular_augmix at the study budget, one run per seed
#   scripts/study.sh int8 0                int8 copies of the four models' runs of these seeds (after `seeds`)
#   scripts/study.sh int8 ce_clean-ep20    int8 copies of the runs named (trained and exported here first)
#
# FAMILY=cifar10c (the 19) or cbar (CIFAR-10-C-bar's 10) measures one corruption family instead of all
# 29; a later part of the other family joins the runs already committed (benchmark.study collect).
#
# Each part ends with its runs' per-image outcomes in results/study-cpu/runs/ (commit them) and the
# study section rebuilt from everything committed there (results/study-cpu/study.md, README.md).
set -euo pipefail
# The whole script is read before anything runs ({ ...; exit; }): bash otherwise reads a script as it goes,
# and a checkout that changes this file during an hours-long part would make it run from a shifted offset.
{
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
part=${1:?usage: scripts/study.sh seeds 0,1,2 | augmix 0 | budgets ce|angular 10,20 | int8 0|<runs>}
case "$part" in
    seeds)
        seeds=${2:?usage: scripts/study.sh seeds 0,1,2}
        "$PY" -m training --models all --profile study --seeds "$seeds" --no-progress
        runs=$("$PY" -c "from robustcifar.model_specs import resolve_model_names as r; print(','.join(r('all', seeds='$seeds')))")
        label="seeds-${seeds//,/-}" ;;
    augmix)
        seeds=${2:?usage: scripts/study.sh augmix 0}
        "$PY" -m training --models ce_augmix,angular_augmix --profile study --seeds "$seeds" --no-progress
        runs=$("$PY" -c "from robustcifar.model_specs import resolve_model_names as r; print(','.join(r('ce_augmix,angular_augmix', seeds='$seeds')))")
        label="augmix-${seeds//,/-}" ;;
    budgets)
        loss=${2:?usage: scripts/study.sh budgets ce|angular 10,20}; budgets=${3:?usage: scripts/study.sh budgets ce 10,20}
        case "$loss" in ce) models=ce_clean,ce_corrupted ;; angular) models=angular,angular_corrupted ;;
            *) echo "study.sh: the loss is ce or angular, not $loss" >&2; exit 2 ;; esac
        "$PY" -m training --models "$models" --profile study --budgets "$budgets" --no-progress
        runs=$("$PY" -c "
from robustcifar.model_specs import RunName
print(','.join(str(RunName(m, 0, int(b))) for m in '$models'.split(',') for b in '$budgets'.split(',')))")
        label="budgets-$loss-${budgets//,/-}" ;;
    int8)
        which=${2:?usage: scripts/study.sh int8 0 (seeds) or int8 ce_clean-ep20,... (runs)}
        if [[ "$which" =~ ^[0-9,]+$ ]]; then
            floats=$("$PY" -c "from robustcifar.model_specs import resolve_model_names as r; print(','.join(r('all', seeds='$which')))")
        else
            floats=$which
        fi
        "$PY" -m export quantize --models "$floats" --no-progress
        runs=$(echo "$floats" | sed 's/,/_int8,/g; s/$/_int8/')
        label="int8-${which//,/-}" ;;
    *) echo "usage: scripts/study.sh seeds 0,1,2 | augmix 0 | budgets ce|angular 10,20 | int8 0|<runs>" >&2; exit 2 ;;
esac
[ "$part" = int8 ] || "$PY" -m export --models "$runs" --no-progress
"$PY" -m serve archive --models "$runs"
"$PY" -m serve start --models "$runs"
out=reports/study-$label${FAMILY:+-$FAMILY}
resume=()
[ -d "$out/cells" ] && resume=(--resume "$out")
"$PY" -m benchmark --profile study --models "$runs" --family "${FAMILY:-all}" --protocol v2 --batch 64 \
    --no-latency --no-progress --out "$out" "${resume[@]}"
"$PY" -m serve stop
"$PY" -m benchmark.study collect --bench "$out"
"$PY" -m benchmark.study report --readme README.md
exit
}
