#!/bin/bash
# trainer.threads: what `auto` chooses and how long the digits VAE trains with it, against fixed
# counts, on an idle machine (right after a run and a minute later) and with two busy loops
# holding two cores.   bash benchmarks/threads.sh [results folder, default /tmp/genbench-threads]
set -u
out=${1:-/tmp/genbench-threads}
run() {  # $1: trainer.threads, $2: the situation
  rm -rf "$out"
  genbench run --model vae --dataset digits --set trainer.threads="$1" --set trainer.max_epochs=30 \
    --set trainer.patience=0 --set eval.quality_samples=0 --force --out "$out" \
    >/dev/null 2>"$out.err"
  chosen=$(grep "CPU thread" "$out.err")
  seconds=$(python -c "import glob, json, sys; r = json.load(open(glob.glob(sys.argv[1])[0])); \
print(round(r['metrics']['train_seconds'], 1))" "$out/runs/vae-digits-*/result.json")
  echo "$2, trainer.threads=$1: ${chosen#genbench: }, trained in $seconds s"
}
run 2 idle; run 1 idle; run auto "idle, right after a run"; sleep 70; run auto "idle, a minute later"
python -c "while True: pass" & first=$!
python -c "while True: pass" & second=$!
trap 'kill $first $second 2>/dev/null' EXIT
sleep 3
run auto "two busy loops"; run 1 "two busy loops"
