#!/usr/bin/env bash
# Checks the dependency rules of docs/architecture.md ("Package layers"):
#  - a package imports only packages of lower layers (or its own subtree);
#  - only apiserver, server and bench import store (or its sub-packages);
#  - kernel-facing packages (cni, overlay, proxy, netpol, nft, runtime/oci,
#    netns) never import client-go or internal/client: they receive desired
#    state and do not talk to the API.
# Every package under internal/ must appear in the layer table below.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)

go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./... | awk -v mod="$mod" '
function layer(p,   top) {
  if (p ~ /^cmd\//) return 5
  sub(/^internal\//, "", p)
  if (p in L) return L[p]
  top = p; sub(/\/.*/, "", top)
  if (top == "controller") return 2
  if (top in L) return L[top]
  return -1
}
function comp(p) { sub(/^internal\//, "", p); sub(/\/.*/, "", p); return p }
BEGIN {
  split("store store/sqlite store/storetest pki netns nft image runtime version client quota memtrim", a0); for (i in a0) L[a0[i]] = 0
  split("apiserver runtime/oci runtime/sim cni overlay proxy netpol leader dns/resolvconf", a1); for (i in a1) L[a1[i]] = 1
  split("scheduler dns agent nodenet", a2); for (i in a2) L[a2[i]] = 2
  split("server kctl", a3); for (i in a3) L[a3[i]] = 3
  split("bench e2e", a4); for (i in a4) L[a4[i]] = 4
  split("apiserver server bench", s); for (i in s) storeOK[s[i]] = 1
  split("cni overlay proxy netpol nft runtime/oci netns", k); for (i in k) kernel[k[i]] = 1
  bad = 0
}
{
  p = $1; sub("^" mod "/?", "", p)
  if (p == "") next
  lp = layer(p)
  if (lp < 0) { print "layers: " p " is not in the layer table of scripts/check-layers.sh"; bad = 1; next }
  rel = p; sub(/^internal\//, "", rel)
  for (i = 2; i <= NF; i++) {
    q = $i
    if ((q ~ /^k8s\.io\/client-go/ || q == mod "/internal/client") && (rel in kernel)) { print "layers: " p " must not import " q " (kernel packages receive desired state)"; bad = 1 }
    if (index(q, mod "/") != 1) continue
    q = substr(q, length(mod) + 2)
    if (comp(q) == comp(p) && p !~ /^cmd\//) continue
    lq = layer(q)
    if (comp(q) == "store" && comp(p) != "store" && !(comp(p) in storeOK)) { print "layers: " p " must not import " q " (only apiserver, server and bench use the store)"; bad = 1 }
    if (lq >= lp) { print "layers: " p " (layer " lp ") must not import " q " (layer " lq ")"; bad = 1 }
  }
}
END { exit bad }'
