#!/bin/bash
# cli_plot.sh: `pronto plot` end to end. The SVG of a CSV with three y
# columns (one named with XML specials) has every series, the marks, the
# escaped names; bad CSV cells fail naming file:line:field; usage errors
# exit 2. Then the SVG is rendered in headless Chromium (Debian's
# `chromium`, installed by scripts/bootstrap): a page parses it as strict
# XML (DOMParser, image/svg+xml), puts it in the document and measures
# every series path (getTotalLength) and the drawing's bounding box; the
# test reads the numbers back from --dump-dom. A deliberately broken SVG
# through the same page must report a parse error, so the check can fail.
. "$(dirname "$0")/lib_cli.sh"

cat > "$T/loss.csv" <<'EOF'
hour_ms,frozen,daily,a<b> & "c"
1704067200000,0.020,0.010,0.005
1704070800000,0.021,0.011,0.004
1704074400000,0.030,,0.012
1704078000000,0.031,0.020,0.006
1704081600000,0.033,0.012,0.005
1704085200000,0.034,0.011,0.004
EOF
$P plot --x hour_ms --y 'frozen,daily,a<b> & "c"' --title 'Loss & <drift>' \
    --y-label 'log loss - Bayes' --mark '2024-01-01T02:00:00Z:ctr-shift' \
    --mark 1704081600:interest-shift --mark 1704085200000ms -o "$T/loss.svg" "$T/loss.csv" \
    2> "$T/err"
check "plot exits 0" '[ $? -eq 0 ]'
check "three series paths" '[ "$(grep -c "class=\"series\"" "$T/loss.svg")" -eq 3 ]'
check "three markers" '[ "$(grep -c "class=\"marker\"" "$T/loss.svg")" -eq 3 ]'
check "marker labels" 'grep -q ">ctr-shift<" "$T/loss.svg" && grep -q ">interest-shift<" "$T/loss.svg"'
check "names in the legend" 'grep -q ">frozen<" "$T/loss.svg" && grep -q ">daily<" "$T/loss.svg"'
check "escaped name" 'grep -q "a&lt;b&gt; &amp; &quot;c&quot;" "$T/loss.svg"'
check "escaped title" 'grep -q "Loss &amp; &lt;drift&gt;" "$T/loss.svg"'
check "nothing raw" '! grep -q "a<b>" "$T/loss.svg" && ! grep -q "<drift>" "$T/loss.svg"'
check "the gap splits daily" \
    '[ "$(grep "data-series=\"1\"" "$T/loss.svg" | grep -o " M" | wc -l)" -eq 1 ]'
check "time axis in UTC" 'grep -q "hour_ms (UTC)" "$T/loss.svg" && grep -q ">01-01 0" "$T/loss.svg"'

# bad input
printf 'hour_ms,frozen\n1704067200000,0.1\n1704070800000,oops\n' > "$T/bad.csv"
$P plot --x hour_ms --y frozen -o "$T/bad.svg" "$T/bad.csv" 2> "$T/err"
check "bad cell exits 1" '[ $? -eq 1 ]'
check "bad cell names file:line:field" \
    'grep -q "bad.csv:3:2: column .frozen.: expected a number" "$T/err"'
check "no output on failure" '[ ! -e "$T/bad.svg" ]'
$P plot --x hour_ms --y nope -o "$T/bad.svg" "$T/loss.csv" 2> "$T/err"
check "missing column exits 1" '[ $? -eq 1 ] && grep -q "no column .nope." "$T/err"'
$P plot --x hour_ms --y frozen -o "$T/bad.svg" "$T/missing.csv" 2> "$T/err"
check "missing file exits 1" '[ $? -eq 1 ] && grep -q "missing.csv" "$T/err"'
$P plot --y frozen -o "$T/x.svg" "$T/loss.csv" 2> "$T/err"
check "no --x exits 2" '[ $? -eq 2 ]'
$P plot --x hour_ms --y frozen --mark yesterday:x -o "$T/x.svg" "$T/loss.csv" 2> "$T/err"
check "bad --mark exits 2" '[ $? -eq 2 ] && grep -q "mark" "$T/err"'
$P plot --x hour_ms --y frozen --x-time weeks -o "$T/x.svg" "$T/loss.csv" 2> "$T/err"
check "bad --x-time exits 2" '[ $? -eq 2 ]'
printf 'step,y\n1,5\n2,6\n3,4\n' > "$T/num.csv"
$P plot --x step --y y --mark 2.5:half -o "$T/num.svg" "$T/num.csv"
check "numeric axis and mark" '[ $? -eq 0 ] && grep -q ">half<" "$T/num.svg"'

# headless Chromium
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
render() { # render SVG -> the result line of the measuring page
    local b64
    b64=$(base64 -w0 "$1")
    cat > "$T/page.html" <<EOF
<!DOCTYPE html><html><body><div id="chart"></div><pre id="result">not run</pre>
<script>
const bytes = Uint8Array.from(atob("$b64"), c => c.charCodeAt(0));
const text = new TextDecoder("utf-8", {fatal: true}).decode(bytes);
const doc = new DOMParser().parseFromString(text, "image/svg+xml");
const perr = doc.getElementsByTagName("parsererror").length;
let out = "parseerror=" + perr;
if (!perr) {
  const svg = document.importNode(doc.documentElement, true);
  document.getElementById("chart").appendChild(svg);
  const paths = svg.querySelectorAll("path.series");
  let nonzero = 0;
  paths.forEach(p => { if (p.getTotalLength() > 10) nonzero++; });
  const box = svg.getBBox();
  out += " paths=" + paths.length + " nonzero=" + nonzero +
         " markers=" + svg.querySelectorAll("line.marker").length +
         " texts=" + svg.querySelectorAll("text").length +
         " bbox=" + Math.round(box.width) + "x" + Math.round(box.height);
}
document.getElementById("result").textContent = out;
</script></body></html>
EOF
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/chromium-profile" --dump-dom "file://$T/page.html" 2>/dev/null |
        grep -o 'id="result">[^<]*' | sed 's/.*>//'
}
if [ -z "$CHROMIUM" ]; then
    fail "chromium is not installed (scripts/bootstrap installs it)"
else
    r=$(render "$T/loss.svg")
    echo "chromium: $r"
    check "chromium parses the SVG as XML" '[[ "$r" == parseerror=0* ]]'
    check "chromium: 3 series drawn with nonzero length" '[[ "$r" == *"paths=3 nonzero=3"* ]]'
    check "chromium: 3 markers" '[[ "$r" == *"markers=3"* ]]'
    check "chromium: the drawing fills the canvas" \
        'w=${r##*bbox=}; w=${w%%x*}; [ "${w:-0}" -ge 800 ]'
    sed 's|</g>||' "$T/loss.svg" > "$T/broken.svg"
    r=$(render "$T/broken.svg")
    echo "chromium (broken): $r"
    check "chromium reports a broken SVG" '[[ "$r" == parseerror=1* ]]'
fi
finish
