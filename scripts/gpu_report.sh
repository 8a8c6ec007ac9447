# Sourced by scripts/gpu_check.sh and scripts/gpu_train.sh: the report both write on the GPU
# machine. Needs $out (a folder) and $report (a file in it).

# report_start TITLE: empties the report and heads it with TITLE, the time and the GPU.
report_start() {
  : > "$report"
  failed=0
  {
    echo "$1, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -m), $(nproc) CPU cores"
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader \
      2>/dev/null || echo "nvidia-smi unavailable"
  } | tee -a "$report"
}

# step NAME COMMAND...: runs it, records the verdict and the output's tail; counts failures.
step() {
  local name=$1; shift
  echo "== $name" | tee -a "$report"
  if "$@" > "$out/$name.log" 2>&1; then
    echo "   ok" | tee -a "$report"
  else
    echo "   FAILED (exit $?)" | tee -a "$report"
    failed=$((failed + 1))
  fi
  sed 's/^/   | /' "$out/$name.log" | tail -40 >> "$report"
}
