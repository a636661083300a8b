#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build (their convention: sources in $SRC, outputs in $OUT).
cd "$SRC/payhil/fuzz"
cargo fuzz build -O
release=target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
  cp "$release/$target" "$OUT/"
  if [ -f "dict/$target.dict" ]; then
    cp "dict/$target.dict" "$OUT/$target.dict"
  fi
  if [ -d "corpus/$target" ]; then
    (cd "corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
