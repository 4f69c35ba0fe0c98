#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 600) each, starting from
# the committed seeds, then minimises the corpus back into fuzz/seeds so the
# next run (and review) starts from what was found. Needs nightly + cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-600}"
targets="${TARGETS:-simpleschema template_extract cel_eval rgd_yaml}"
cargo +nightly fuzz build -O
for t in $targets; do
  mkdir -p "corpus/$t"
  echo "== $t for ${secs}s"
  cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=4096 2>&1 | tail -n 15
  rm -rf "seeds/$t.min" && mkdir -p "seeds/$t.min"
  cargo +nightly fuzz cmin -O "$t" "corpus/$t" -- -max_len=8192 >/dev/null 2>&1 || true
  cp corpus/"$t"/* "seeds/$t.min/" 2>/dev/null || true
  rm -rf "seeds/$t" && mv "seeds/$t.min" "seeds/$t"
done
