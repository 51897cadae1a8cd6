#!/bin/bash
# cli_monitor_rules.sh: `pronto monitor check-rules`: the built-in defaults
# without a file, a monitors.yaml, the `monitors:` block of a real spec
# (the shipped sim-store spec, which the spec parser still accepts for
# training), --yaml as a fixed point, errors naming file:line:col and the
# field (exit 1), and usage errors (exit 2).
. "$(dirname "$0")/lib_cli.sh"
SRC=${PRONTO_SRC:?}

"$P" monitor check-rules > "$T/def.txt"; rc=$?
check "defaults: exit 0" "[ $rc -eq 0 ]"
check "defaults: nine rules" "grep -q '^9 rules ok' $T/def.txt"
check "defaults: calibration (bound) outside [0.9, 1.1], retrain; traffic" \
    "grep -q '^calibration  *calibration_bound .*outside \[0.9, 1.1\].*critical yes' $T/def.txt && grep -q '^traffic  *traffic_ratio .*outside \[0.5, 2\].*info' $T/def.txt"

cat > "$T/monitors.yaml" <<'Y'
defaults: true
rules:
  - name: drift_psi          # replaces the built-in rule of that name
    metric: psi
    window: 1h
    op: ">="
    threshold: 0.25
    for: 30m
    min_n: 5000
  - name: ctr_arm_b
    metric: calibration
    field: ""
    arm: b
    window: 5m
    op: outside
    threshold: [0.8, 1.25]
    severity: critical
    retrain: true
Y
"$P" monitor check-rules "$T/monitors.yaml" > "$T/m.txt"; rc=$?
check "file: exit 0" "[ $rc -eq 0 ]"
check "file: 10 rules" "grep -q '^10 rules ok' $T/m.txt"
check "file: override shown" "grep -q '^drift_psi .* 1h .*>= 0.25 .*30m' $T/m.txt"
"$P" monitor check-rules --yaml "$T/monitors.yaml" > "$T/c1.yaml"
"$P" monitor check-rules --yaml "$T/c1.yaml" > "$T/c2.yaml"
check "--yaml is a fixed point" "cmp -s $T/c1.yaml $T/c2.yaml && [ -s $T/c1.yaml ]"

# a spec with a monitors: block: rules read, and the spec still trains
cp "$SRC/specs/sim-store.yaml" "$T/spec.yaml"
printf 'monitors:\n  defaults: true\n  rules:\n    - {name: device_missing, metric: missing_delta, field: device, window: 1m, op: ">=", threshold: 2, for: 1m}\n' >> "$T/spec.yaml"
"$P" monitor check-rules "$T/spec.yaml" > "$T/s.txt"; rc=$?
check "spec block: 10 rules" "[ $rc -eq 0 ] && grep -q '^device_missing ' $T/s.txt && grep -q '^10 rules ok' $T/s.txt"
"$P" simulate -o "$T/d" --duration 20m --users 100 --ads 30 --advertisers 10 --sites 20 \
    --imp-rate 2 --quiet
"$P" build-dataset --spec "$T/spec.yaml" --data "$T/d" -o "$T/train.pcache" > /dev/null 2>&1
check "spec block: build-dataset accepts the spec" "[ -s $T/train.pcache ]"

# errors: file:line:col: path, exit 1
printf 'rules:\n  - name: r\n    metric: psi\n    window: 10m\n    op: gt\n    threshold: 1\n' > "$T/bad.yaml"
"$P" monitor check-rules "$T/bad.yaml" > /dev/null 2> "$T/err"; rc=$?
check "bad window: exit 1" "[ $rc -eq 1 ]"
check "bad window: file:line:col and field" \
    "grep -qF '$T/bad.yaml:4:13: rules[0].window: expected 1m, 5m, 15m or 1h' $T/err"
printf 'rules:\n  - name: r\n    metric: psi\n    window: 5m\n    op: >=\n    threshold: 1\n' > "$T/bad2.yaml"
"$P" monitor check-rules "$T/bad2.yaml" > /dev/null 2> "$T/err2"; rc=$?
check "unquoted >=: syntax error with line:col" \
    "[ $rc -eq 1 ] && grep -qF '$T/bad2.yaml:5:' $T/err2"
"$P" monitor check-rules "$T/missing.yaml" > /dev/null 2> "$T/err3"; rc=$?
check "missing file: exit 1 naming it" "[ $rc -eq 1 ] && grep -q missing.yaml $T/err3"

# usage
"$P" monitor > /dev/null 2>&1; rc=$?
check "no subcommand: exit 2" "[ $rc -eq 2 ]"
"$P" monitor nope > /dev/null 2>&1; rc=$?
check "unknown subcommand: exit 2" "[ $rc -eq 2 ]"
"$P" monitor check-rules --frobnicate > /dev/null 2>&1; rc=$?
check "unknown flag: exit 2" "[ $rc -eq 2 ]"
"$P" monitor check-rules --help > "$T/help" 2>&1; rc=$?
check "--help: exit 0" "[ $rc -eq 0 ] && grep -q monitors $T/help"
finish
