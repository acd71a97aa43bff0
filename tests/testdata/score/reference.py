"""Independent reference for tests/score: docs/scoring.md written out with
Python's own `statistics` module (CPython 3.11), the way pypss 1.3.1 uses it.
It does not import pypss. Regenerate the fixtures with:

    python3 tests/testdata/score/reference.py

which rewrites pss_cases.json and round_cases.json next to this file; then
run `npx deno fmt tests/testdata/score/` to give them the house format.
"""

import json
import math
import os
import random
import statistics
import struct
from collections import Counter

DEFAULTS = dict(
    w_ts=0.30, w_ms=0.20, w_ev=0.20, w_be=0.15, w_cc=0.15, alpha=2.0,
    beta=1.0, gamma=2.0, mem_spike_threshold_ratio=1.5, delta=1.0,
    error_spike_threshold=0.1, consecutive_error_threshold=3,
    concurrency_wait_threshold=0.001, score_latency_tail_percentile=94,
    score_memory_epsilon=1e-9, score_error_vmr_multiplier=0.5,
    score_error_spike_impact_multiplier=0.5,
    score_consecutive_error_decay_multiplier=2.0,
    loop_lag_threshold=0.01, loop_lag_factor=5.0,
)

CAMEL = {
    "w_ts": "wTs", "w_ms": "wMs", "w_ev": "wEv", "w_be": "wBe",
    "w_cc": "wCc", "alpha": "alpha", "beta": "beta", "gamma": "gamma",
    "mem_spike_threshold_ratio": "memSpikeThresholdRatio", "delta": "delta",
    "error_spike_threshold": "errorSpikeThreshold",
    "consecutive_error_threshold": "consecutiveErrorThreshold",
    "concurrency_wait_threshold": "concurrencyWaitThreshold",
    "score_latency_tail_percentile": "scoreLatencyTailPercentile",
    "score_memory_epsilon": "scoreMemoryEpsilon",
    "score_error_vmr_multiplier": "scoreErrorVmrMultiplier",
    "score_error_spike_impact_multiplier": "scoreErrorSpikeImpactMultiplier",
    "score_consecutive_error_decay_multiplier":
        "scoreConsecutiveErrorDecayMultiplier",
    "loop_lag_threshold": "loopLagThreshold",
    "loop_lag_factor": "loopLagFactor",
}


def decay(x, a):
    return math.exp(-a * x)


def cv(data):
    if len(data) < 2:
        return 0.0
    m = statistics.mean(data)
    if m == 0:
        return 0.0
    return statistics.stdev(data) / m


def timing(lat, c):
    if not lat:
        return 1.0
    ratio = 1.0
    if len(lat) > 1:
        q = statistics.quantiles(lat, n=100)
        p50, tail = q[49], q[c["score_latency_tail_percentile"]]
        if p50 > 0:
            ratio = tail / p50
    return decay(cv(lat), c["alpha"]) * (
        1.0 / (1.0 + c["beta"] * max(0, ratio - 1.0)))


def memory(mem, c):
    if len(mem) < 2:
        return 1.0
    med = statistics.median(mem) + c["score_memory_epsilon"]
    peak = max(mem)
    if med <= c["score_memory_epsilon"]:
        return 1.0 if peak == 0 else 0.0
    s = decay(statistics.stdev(mem) / med + (peak / med - 1.0), c["gamma"])
    if peak / med > c["mem_spike_threshold_ratio"]:
        s *= decay(peak / med - c["mem_spike_threshold_ratio"], c["gamma"])
    return s


def errors(err, c):
    if not err:
        return 1.0
    n, k = len(err), sum(err)
    m = k / n
    vmr = statistics.variance(err) / m if n > 1 and m > 0 else 0.0
    s = decay(m + c["score_error_vmr_multiplier"] * vmr, c["delta"])
    t = c["error_spike_threshold"]
    if m > t:
        s *= 1.0 - (m - t) / (1.0 - t) * c["score_error_spike_impact_multiplier"]
    run = best = 0
    for e in err:
        run = run + 1 if e else 0
        best = max(best, run)
    if best >= c["consecutive_error_threshold"]:
        s *= decay(best - c["consecutive_error_threshold"] + 1,
                   c["delta"] * c["score_consecutive_error_decay_multiplier"])
    return s


def branching(tags):
    if len(tags) < 2:
        return 1.0
    total = tags.total()
    h = 0.0
    for count in tags.values():
        p = count / total
        h -= p * math.log2(p)
    return 1.0 - h / math.log2(len(tags))


def concurrency(waits, lags, c):
    s = 1.0
    if len(waits) >= 2 and sum(waits) / len(waits) > c["concurrency_wait_threshold"]:
        s = decay(cv(waits), c["alpha"])
    if lags:
        mean_lag = sum(lags) / len(lags)
        if mean_lag > c["loop_lag_threshold"]:
            s *= 1.0 - min(1.0, mean_lag * c["loop_lag_factor"])
    return max(0.0, s)


def score(traces, overrides=None):
    c = dict(DEFAULTS, **(overrides or {}))
    lat, mem, waits, err, lags = [], [], [], [], []
    tags = Counter()
    for t in traces:
        if t.get("system_metric"):
            meta = t.get("metadata", {})
            if "lag" in meta:
                lags.append(meta["lag"])
            continue
        lat.append(float(t.get("duration", 0)))
        mem.append(float(t.get("memory", 0)))
        waits.append(float(t.get("wait_time", 0)))
        err.append(1 if t.get("error", False) else 0)
        tag = t.get("branch_tag")
        if isinstance(tag, str) and tag != "":
            tags[tag] += 1
    if not lat and not lags:
        return dict(pss=0, breakdown=[0.0] * 5)
    pillars = [timing(lat, c), memory(mem, c), errors(err, c), branching(tags),
               concurrency(waits, lags, c)]
    w = [c["w_ts"], c["w_ms"], c["w_ev"], c["w_be"], c["w_cc"]]
    raw = (w[0] * pillars[0] + w[1] * pillars[1] + w[2] * pillars[2]
           + w[3] * pillars[3] + w[4] * pillars[4])
    raw /= w[0] + w[1] + w[2] + w[3] + w[4]
    return dict(pss=round(max(0.0, min(raw, 1.0)) * 100), breakdown=pillars)


def trace(rng, duration=None, memory=None, wait=None, error=None, tag=None):
    t = {"name": "op"}
    if duration is not None:
        t["duration"] = duration
    if memory is not None:
        t["memory"] = memory
    if wait is not None:
        t["wait_time"] = wait
    if error is not None:
        t["error"] = error
    if tag is not None:
        t["branch_tag"] = tag
    return t


def lag(value):
    return {"name": "__event_loop__", "system_metric": True,
            "metadata": {"lag": value}}


def cases():
    rng = random.Random(20261126)
    out = []
    sets = {}

    def add(name, traces, overrides=None, shared=None):
        """A case; `shared` names a trace set stored once in "sets"."""
        case = dict(name=name,
                    config={CAMEL[k]: v for k, v in (overrides or {}).items()},
                    expected=score(traces, overrides))
        if shared is None:
            case["traces"] = traces
        else:
            sets[shared] = traces
            case["set"] = shared
        out.append(case)

    add("one clean trace", [trace(rng, 0.1, 1e6, 0.0, False)])
    add("one error alone", [trace(rng, 0.1, error=True)])
    add("two durations [1, 3] (p95 beyond the max)",
        [trace(rng, 1.0), trace(rng, 3.0)])
    for n in (3, 5, 10, 18, 19, 20, 21, 99, 100, 101):
        add(f"{n} lognormal durations",
            [trace(rng, rng.lognormvariate(-4, 0.5)) for _ in range(n)])
    add("all fields missing", [{"name": "op"} for _ in range(5)])
    add("all zero durations", [trace(rng, 0.0, 0.0, 0.0) for _ in range(50)])
    add("memory median 0 with a peak",
        [trace(rng, 0.01, m) for m in (0, 0, 0, 0, 5e6)])
    add("memory spike", [trace(rng, 0.01, m) for m in [1e8] * 20 + [3e8]])
    add("memory steady with noise",
        [trace(rng, 0.01, 1e8 + rng.random() * 1e6) for _ in range(200)])
    add("one-byte memory values (MS a hair above 1 before the clamp)",
        [trace(rng, 0.01, m) for m in (1, 1, 1)])
    add("sub-byte memory values (MS far above 1 before the clamp)",
        [trace(rng, 0.01, m) for m in (1e-12, 1e-12, 1e-12)]
        + [trace(rng, rng.random(), 1e-12) for _ in range(9)])
    add("run of 3 errors", [trace(rng, 0.01, error=e) for e in
                            [False] * 20 + [True] * 3 + [False] * 20])
    add("run of 7 errors", [trace(rng, 0.01, error=e) for e in
                            [False] * 10 + [True] * 7 + [False] * 3])
    add("scattered errors above the spike threshold",
        [trace(rng, 0.01, error=(i % 4 == 0)) for i in range(40)])
    add("all errors", [trace(rng, 0.01, error=True) for _ in range(10)])
    add("uniform tags (BE below 0 before the clamp)",
        [trace(rng, 0.01, tag=t) for t in ["a", "b", "c"] * 7])
    add("skewed tags",
        [trace(rng, 0.01, tag=t) for t in ["hit"] * 90 + ["miss"] * 9 + ["x"]])
    add("one tag only", [trace(rng, 0.01, tag="hit") for _ in range(5)])
    add("lag only, below threshold", [lag(0.005), lag(0.01)])
    add("lag only, above threshold", [lag(0.05), lag(0.02)])
    add("lag only, saturated", [lag(0.3)])
    add("waits above threshold",
        [trace(rng, 0.01, wait=rng.random() * 0.01) for _ in range(30)])
    add("waits with mean exactly at threshold (not counted)",
        [trace(rng, 0.01, wait=w) for w in (0.0005, 0.0015)])
    add("waits and lag",
        [trace(rng, 0.01, wait=rng.random() * 0.01) for _ in range(30)]
        + [lag(0.02), lag(0.04)])
    mixed = []
    for i in range(1000):
        mixed.append(trace(
            rng, rng.lognormvariate(-4, 0.3) * (10 if rng.random() < 0.02 else 1),
            5e7 + rng.random() * 2e6, rng.random() * 0.003,
            rng.random() < 0.03,
            rng.choice(["hit", "hit", "hit", "miss", "stale"])
            if rng.random() < 0.5 else None))
        if i % 100 == 0:
            mixed.append(lag(rng.random() * 0.02))
    add("1000 mixed traces with lag samples", mixed, shared="mixed")
    add("1000 mixed traces, custom config", mixed,
        dict(w_ts=0.5, w_ms=0.1, w_ev=0.1, w_be=0.2, w_cc=0.1, alpha=3.0,
             beta=0.5, gamma=1.0, delta=2.0, score_latency_tail_percentile=98,
             consecutive_error_threshold=2, loop_lag_threshold=0.005,
             loop_lag_factor=2.0), shared="mixed")
    add("timing only weight", mixed,
        dict(w_ts=1.0, w_ms=0.0, w_ev=0.0, w_be=0.0, w_cc=0.0), shared="mixed")
    for k in range(15):
        n = rng.randint(1, 120)
        traces = [trace(rng, rng.expovariate(50) if rng.random() > 0.1 else 0.0,
                        rng.choice([0, 1e6, 2e6, rng.random() * 3e6]),
                        rng.random() * 0.004,
                        rng.random() < rng.random() * 0.3,
                        rng.choice(["a", "b", "c", None]))
                  for _ in range(n)]
        if k % 3 == 0:
            traces += [lag(rng.random() * 0.05) for _ in range(rng.randint(1, 5))]
        add(f"random set {k} ({n} traces)", traces)
    return dict(sets=sets, cases=out)


def round_cases():
    rng = random.Random(7)
    values = [0.125, 0.375, 0.625, 0.875, 2.675, 1.005, 0.005, 0.015, 0.045,
              0.9249999999999999, 0.995, 0.994999, 1.0, 0.0, 1e-300, 5e-324,
              123456.785, 0.285, 0.18393972058572117, -0.125, -2.675, 1e22]
    values += [k / 8 for k in range(-40, 41)]
    values += [k / 1000 + 0.0005 for k in range(0, 1000, 3)]
    values += [rng.random() for _ in range(400)]
    values += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(62)))[0]
               for _ in range(200)]
    digits = [0, 2, 3]
    return [dict(x=x, digits=d, expected=round(x, d))
            for x in values if math.isfinite(x) for d in digits]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "pss_cases.json"), "w") as f:
        json.dump(cases(), f, separators=(",", ":"))
        f.write("\n")
    with open(os.path.join(here, "round_cases.json"), "w") as f:
        json.dump(round_cases(), f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
